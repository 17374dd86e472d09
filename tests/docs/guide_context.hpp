// The names docs/guide.md's fragments use without defining them, so that the
// fragments compile as a reader would use them (tests/docs/CMakeLists.txt).
#pragma once

#include <beamline/beamline.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

namespace bl = beamline;

inline bl::pid pid;     // a process
inline bl::pid server;  // a process that answers requests
inline bl::pid worker;  // a process that does jobs
inline bl::term job;    // a job for it
inline int level = 1;
inline std::string text = "starting";
struct question {
  std::string text;
};
inline question request{"why?"};
struct answer {
  std::string text;
};
