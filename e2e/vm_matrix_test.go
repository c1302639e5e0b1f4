package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestVMMatrix bakes a bridge image with the plugin on every base image OS
// (E2E_MATRIX: all, ci, or a list; see parseMatrix) and boots each with
// user-data from `issue` against one Debian 12 JMS (TestVMCluster's image
// when it baked one in this run), on the metadata network with a fake EC2
// (TEST FIXTURE) of its own: each bridge must join the brewery under its
// nickname, report active, advertise the public address the metadata gave,
// and leave and report retired on `jitsi-node drain`. Ubuntu 18.04 and
// Debian 11 pin the 2020-era stand-in bridge and use the legacy format. JMS
// rows bake and boot a JMS on another OS and a bridge that logs in to it.
// Bakes run one at a time, each beside the previous row's boot. The rows go
// to e2e/out/<run>/matrix.json and the log as a table; an Ubuntu row whose
// archive did not answer is "not run", and the rest goes on.
func TestVMMatrix(t *testing.T) {
	requireVM(t)
	spec := os.Getenv("E2E_MATRIX")
	if spec == "" {
		t.Skip("the matrix runs with E2E_MATRIX=all, ci or OS[/role],… (make e2e-matrix)")
	}
	entries, why, err := parseMatrix(spec, headCommit())
	if err != nil {
		t.Fatal(err)
	}
	progress(t, "%s", why)
	t.Log(why)
	start := time.Now()
	out := outDir(t)

	rows := make([]matrixRow, len(entries))
	for i, e := range entries {
		rows[i] = matrixRow{OS: e.OS, Role: e.Role, Result: resultFail, Reason: "not reached: the matrix stopped before this row (see the test log)"}
	}
	jmsRow := matrixRow{OS: ciOS, Role: "jms", Result: resultFail, Reason: "the bridges' JMS did not come up"}
	defer func() {
		all := append([]matrixRow{jmsRow}, rows...)
		table, err := writeMatrix(matrixPath(out), all)
		if err != nil {
			t.Error(err)
			return
		}
		for _, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
			progress(t, "%s", line)
		}
		t.Logf("%s\n%s(%s, whole run %s)", why, table, matrixPath(out), time.Since(start).Round(time.Second))
	}()

	m := newMatrixRun(t, out)
	// The JMS every bridge row logs in to: TestVMCluster's, or baked first.
	var jobs []bakeJob
	shared, reuse := clusterImage("jms")
	if !reuse {
		jobs = append(jobs, bakeJob{Role: "jms", OS: ciOS})
	}
	for _, e := range entries {
		if r, ok := clusterImage("jvb"); ok && e == (matrixEntry{ciOS, "jvb"}) {
			m.reused[e] = r
			continue
		}
		jobs = append(jobs, bakeJob{Role: e.Role, OS: e.OS, Versions: e.Versions()})
	}
	bakes := m.startBakes(t, jobs)

	// --- the Debian 12 JMS
	var jmsBake matrixBake
	if reuse {
		jmsBake = matrixBake{bakeResult: shared}
		progress(t, "matrix: booting TestVMCluster's JMS image %s", shared.image)
	} else {
		jmsBake = <-bakes[matrixEntry{ciOS, "jms"}]
	}
	jmsRow.BakeS = seconds(jmsBake.took)
	switch {
	case jmsBake.notRun != "":
		jmsRow.Reason = jmsBake.notRun
	case jmsBake.err != nil:
		jmsRow.Reason = "bake: " + firstLineOf(jmsBake.err.Error())
	}
	if jmsBake.image == "" {
		t.Fatalf("assertion matrix: the Debian 12 JMS: %s", jmsRow.Reason)
	}
	cl := m.bootCluster(t, clusterFQDN, jmsBake.image, vmName("jms", ciOS))
	jmsRow.BootS = seconds(cl.booted)
	jmsRow.Result, jmsRow.Reason = resultPass, "prosody "+cl.prosody
	if reuse {
		jmsRow.Reason += "; image baked by TestVMCluster in this run"
	}
	progress(t, "matrix: JMS %s up in %s; bridges log in as %s", clusterFQDN, cl.booted.Round(time.Second), cl.brewery)

	jvbImages := map[string]string{}
	for i, e := range entries {
		row := &rows[i]
		row.Reason = ""
		t.Run(e.String(), func(t *testing.T) {
			rec := &rowRecord{row: row}
			defer rec.finish(t)
			b, reused := m.reused[e]
			if !reused {
				mb := <-bakes[e]
				if mb.notRun != "" {
					// On a line of its own: not run is neither pass nor fail.
					fmt.Fprintln(os.Stderr, mb.notRun)
					row.Result, row.Reason = resultNotRun, strings.TrimPrefix(mb.notRun, "NOT RUN: ")
					t.Skipf("%s: %s", e, mb.notRun)
				}
				b = mb.bakeResult
			}
			row.BakeS = seconds(b.took)
			if b.err != nil {
				rec.fail(t, "bake", b.err)
			}
			if e.Role == "jvb" {
				jvbImages[e.OS] = b.image
				m.bridgeRow(t, rec, e, b.image, cl)
			} else {
				m.jmsRow(t, rec, e, b.image, jvbImages)
			}
			if reused {
				rec.note += "; image baked by TestVMCluster in this run"
			}
		})
	}
	progress(t, "matrix: whole run %s", time.Since(start).Round(time.Second))
}

// rowRecord keeps what a row is doing, so a failure inside a helper that
// ends the subtest still records where it happened.
type rowRecord struct {
	row    *matrixRow
	step   string
	failed string // why the row failed, when the row's own check said
	note   string // what a passing row ran
}

func (r *rowRecord) at(t *testing.T, step string) {
	t.Helper()
	r.step = step
	progress(t, "matrix %s/%s: %s", r.row.OS, r.row.Role, step)
}

// fail records err as the row's reason and ends the row.
func (r *rowRecord) fail(t *testing.T, step string, err error) {
	t.Helper()
	r.failed = step + ": " + firstLineOf(err.Error())
	t.Fatalf("assertion matrix %s/%s: %s: %v", r.row.OS, r.row.Role, step, err)
}

// finish sets the row's result and reason from how the subtest ended.
func (r *rowRecord) finish(t *testing.T) {
	switch {
	case t.Skipped():
		r.row.Result = resultNotRun
	case t.Failed() && r.failed != "":
		r.row.Result, r.row.Reason = resultFail, r.failed
	case t.Failed():
		r.row.Result, r.row.Reason = resultFail, "failed at "+r.step+" (see the test log)"
	default:
		r.row.Result, r.row.Reason = resultPass, r.note
	}
}
