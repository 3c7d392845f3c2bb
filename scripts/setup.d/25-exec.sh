# bubblewrap (`bwrap`, Debian package `bubblewrap`): the simulator runs `kubectl exec` and exec
# snapshot hooks as host processes in a bwrap sandbox that shows the pod's volumes at their
# mount paths (docs/formats/sim-profile.md section 15). Tests of pods/exec need it on PATH.
need_apt bubblewrap
