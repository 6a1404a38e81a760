"""Execution-checked equivalence: does the converted playbook do what the script does?

For each script of a corpus (default tests/data/realworld/*.sh, with its MANIFEST.yaml),
`python -m verify` (`make verify`) runs the script as root in one throwaway copy of a cached
Debian root, runs the playbook the rules engine makes of it (`convert_script` +
`render_playbook`, `hosts: all`) in a second copy through ansible's chroot connection, and
compares the two resulting states: files (type, mode, owner, content), installed packages,
users and groups, enabled systemd units, crontabs and sysctl settings. Each script is reported
equivalent, differs (with its first ten differences) or not runnable (with the reason), in
bench/results/verify.json and verify.md.

Safety (for the README): `make verify` runs the corpus scripts **as root** in a chroot of a
throwaway copy of a Debian root, with fresh mount and PID namespaces, no daemons started
(policy-rc.d), the dangerous capabilities dropped (no mount, swapon, kernel modules, clock or
firewall changes), a writable copy of /proc/sys instead of the real one, and a time bound per
run. A chroot is not a security boundary: a script run this way can still reach the network
and the host's kernel, and root in a chroot can find its way out. That is fine for the
project's own corpus, which we read and control; never point it at user input or at scripts
you have not read (for those, use a virtual machine).

Modules, one job each:

| module | job |
|---|---|
| `verify.rootfs` | the cached debootstrap root, overlay/cp copies of it, unmounting and deletion |
| `verify.sandbox` | running a script (chroot) or a playbook (ansible chroot connection) in a copy |
| `verify.state` | a copy's state and the differences between two states (pure) |
| `verify.corpus` | the corpus and its MANIFEST, rhel-only scripts, why a reference run failed |
| `verify.run` | one script end to end |
| `verify.report` | verify.json and verify.md |
| `verify.cli` | `python -m verify` |
"""
