// beamline/net.hpp: sockets for processes: TCP, UDP, name resolution (docs/io.md).
//
//     #include <beamline/net.hpp>
//     namespace net = beamline::net;
#pragma once

#include "beamline/net/address.hpp"
#include "beamline/net/resolve.hpp"
#include "beamline/net/result.hpp"
#include "beamline/net/socket.hpp"
#include "beamline/net/tcp.hpp"
#include "beamline/net/udp.hpp"
