package jvbread

import "time"

// TierEnv set to 1 makes a missing java or mvn a test failure instead of a
// skip (`make test` sets it, so CI cannot pass without the JVM tier).
const TierEnv = "JITSI_JVM_TIER"

// BuildTimeout bounds a cold build (Maven downloads included).
const BuildTimeout = 10 * time.Minute
