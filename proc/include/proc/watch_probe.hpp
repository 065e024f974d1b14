#pragma once
// Whether the x86 debug registers really trap on this machine. Some hypervisors accept debug
// register values through ptrace (PTRACE_POKEUSER succeeds, the value reads back) yet never
// deliver the #DB they should raise, so a watchpoint set there silently never fires.
#include <string>

namespace goscope::proc {

/// Whether a hardware write watchpoint set through ptrace traps on this machine, measured
/// once per process: a traced grandchild writes a watched variable kProbeWrites times and
/// every write must stop it with SIGTRAP and DR6's B0 bit (proc/src/watch_probe.cpp). A
/// definite answer is cached; a probe that could not finish in time (a machine too loaded to
/// schedule the child for seconds) answers false without caching, so a later call measures
/// again. `why` gets a one-line reason when the answer is false. Thread-safe, callable from
/// any thread, also while a Process is traced by another one: the probe's traced child is
/// not this program's child, and its waits name their pid.
bool hardware_watchpoints_fire(std::string* why = nullptr);

/// How many watched writes the probe makes (each one must trap).
inline constexpr int kProbeWrites = 8;

}  // namespace goscope::proc
