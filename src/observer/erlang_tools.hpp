// erlang_tools.hpp: what Erlang's own observation tools call on a node, answered by
// a beamline node over distribution (docs/observer.md, "Erlang's tools").
//
// etop (`erl -hidden ... -s etop -node cpp@host -output text -tracing off`) asks
// observer_backend:vsn/0 and spawns observer_backend:etop_collect/1 each interval;
// the graphical observer asks observer_backend:sys_info/0 (the System tab), checks
// code:ensure_loaded/1 and erlang:function_exported/3, and spawns
// observer_backend:procs_info/1 (the Processes tab). Each answer is built from
// bl::observe's snapshots, in the record shapes OTP 25's observer_backend sends.
#pragma once

namespace beamline::observer {

// Exports the functions above (dist::export_task); the distribution calls it when
// it starts.
void export_erlang_tools();

}  // namespace beamline::observer
