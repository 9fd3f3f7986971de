// The Nameserver logger, shared by this folder's files.
#pragma once

#include <memory>

#include "common/log.h"

namespace chainfs::nameserver {

inline const std::shared_ptr<spdlog::logger>& Log() {
  static const std::shared_ptr<spdlog::logger> log = Logger("nameserver");
  return log;
}

}  // namespace chainfs::nameserver
