# Inputs of the role images. Override with -var, -var-file or PKR_VAR_<name>.

variable "os" {
  type        = string
  default     = "debian-12"
  description = "Release to bake on: ubuntu-18.04, ubuntu-20.04, ubuntu-22.04, ubuntu-24.04, debian-11, debian-12 or debian-13 (the jitsi provisioner's releases; ubuntu-18.04 runs only 2020-era Jitsi versions, pinned in jvb_versions/jms_versions). Names the base image and the output."
  validation {
    condition     = contains(["ubuntu-18.04", "ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04", "debian-11", "debian-12", "debian-13"], var.os)
    error_message = "The os variable must be one of ubuntu-18.04, ubuntu-20.04, ubuntu-22.04, ubuntu-24.04, debian-11, debian-12, debian-13."
  }
}

variable "base_image_dir" {
  type        = string
  default     = "base-images"
  description = "Directory of the local base images, one <os>.qcow2 per release (a cloud image with cloud-init, e.g. Debian's genericcloud or Ubuntu's cloud image)."
}

variable "output_dir" {
  type        = string
  default     = "output"
  description = "Where the qemu builds write <role>-<os>/<role>-<os>.qcow2."
}

variable "accelerator" {
  type        = string
  default     = "tcg"
  description = "qemu accelerator. tcg (software emulation) works everywhere; kvm is much faster where guests boot under it."
}

variable "qemu_netdev_extra" {
  type        = string
  default     = ""
  description = "Appended to qemu's -netdev user options, e.g. \",restrict=on,guestfwd=tcp:10.0.2.101:80-tcp:127.0.0.1:8080\" to reach a local mirror only."
}

variable "cpus" {
  type    = number
  default = 2
}

variable "memory" {
  type        = number
  default     = 2048
  description = "Guest memory in MiB (Java packages are installed: keep 2048 or more)."
}

variable "disk_size" {
  type        = string
  default     = "8G"
  description = "Size of the output disk image."
}

variable "ssh_private_key_file" {
  type        = string
  default     = "bake_key"
  description = "Private key Packer logs in as root with; make one with ssh-keygen -t ed25519 -N '' -f bake_key. The jitsi provisioner removes the key from the image."
}

variable "ssh_public_key" {
  type        = string
  default     = ""
  description = "Public half of ssh_private_key_file (the content of bake_key.pub), handed to the base image's cloud-init."
  validation {
    condition     = can(regex("^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+", var.ssh_public_key))
    error_message = "The ssh_public_key variable must be an OpenSSH public key: -var \"ssh_public_key=$(cat bake_key.pub)\"."
  }
}

variable "apt_repo_url" {
  type        = string
  default     = ""
  description = "Jitsi apt repository; empty: https://download.jitsi.org."
}

variable "apt_key_file" {
  type        = string
  default     = ""
  description = "Repository signing key on this machine; empty: fetched from https://download.jitsi.org/jitsi-key.gpg.key."
}

variable "jvb_versions" {
  type        = map(string)
  default     = {}
  description = "Exact versions for the JVB image, e.g. { jitsi-videobridge2 = \"2.3-160-g97a1f15f-1\" }; empty: newest."
}

variable "jms_versions" {
  type        = map(string)
  default     = {}
  description = "Exact versions for the JMS image, e.g. { jitsi-meet = \"2.0.9823-1\", jicofo = \"1.0-1100-1\" }; empty: newest."
}

variable "registry_dir" {
  type        = string
  default     = "registry-data"
  description = "Data directory of the embedded registry the jitsi-registry post-processor records images in."
}

variable "registry_url" {
  type        = string
  default     = ""
  description = "A registry's HTTP API (https://HOST:PORT) to record images in instead of registry_dir; needs registry_token_file."
}

variable "registry_token_file" {
  type        = string
  default     = ""
  description = "With registry_url: the file holding the operator token (mode 0600)."
}

variable "registry_ca_file" {
  type        = string
  default     = ""
  description = "With registry_url: PEM file of the CA of the API's certificate (default: the system's roots)."
}

variable "jms_web_server" {
  type        = string
  default     = "nginx"
  description = "Web server of the JMS image: nginx (Jitsi's default; jitsi-meet-turnserver sets up coturn) or apache (installed before the Jitsi packages; first boot sets up coturn)."
}

variable "firewall" {
  type        = string
  default     = ""
  description = "ufw: first boot opens the role's ports with ufw where it is installed (it does not enable ufw); empty: no rules."
}

variable "firewall_bridge_networks" {
  type        = list(string)
  default     = []
  description = "With firewall on the JMS: the networks (CIDR) bridges reach prosody's 5222 from; empty: any address."
}
