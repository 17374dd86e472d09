// beamline/otp.hpp: the OTP behaviours and registries, built on processes.
//
//     #include <beamline/otp.hpp>
//
// gen_server (gen_server.hpp), supervisor (supervisor.hpp), agent (agent.hpp),
// task-style async work (async.hpp), gen_statem (gen_statem.hpp) and an Elixir-style
// registry (registry.hpp). docs/otp.md is the guide.
#pragma once

#include "beamline/beamline.hpp"
#include "beamline/otp/agent.hpp"
#include "beamline/otp/async.hpp"
#include "beamline/otp/call_exit.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/otp/gen_statem.hpp"
#include "beamline/otp/registry.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/otp/supervisor.hpp"
#include "beamline/otp/task_supervisor.hpp"
#include "beamline/pg.hpp"
