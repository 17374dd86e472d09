// beamline/beamline.hpp: everything a program needs.
//
//     #include <beamline/beamline.hpp>
//     namespace bl = beamline;
#pragma once

#include "beamline/alias.hpp"
#include "beamline/atom.hpp"
#include "beamline/blocking.hpp"
#include "beamline/chan.hpp"
#include "beamline/dist.hpp"
#include "beamline/errors.hpp"
#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/net.hpp"
#include "beamline/node.hpp"
#include "beamline/observe.hpp"
#include "beamline/pattern.hpp"
#include "beamline/pid.hpp"
#include "beamline/priority.hpp"
#include "beamline/process.hpp"
#include "beamline/process_info.hpp"
#include "beamline/receive.hpp"
#include "beamline/ref.hpp"
#include "beamline/registry.hpp"
#include "beamline/select.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"
#include "beamline/term.hpp"
#include "beamline/timer.hpp"
#include "beamline/version.hpp"
