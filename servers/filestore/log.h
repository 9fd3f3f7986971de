// The Filestore logger, shared by this folder's files.
#pragma once

#include <memory>

#include "common/log.h"

namespace chainfs::filestore {

inline const std::shared_ptr<spdlog::logger>& Log() {
  static const std::shared_ptr<spdlog::logger> log = Logger("filestore");
  return log;
}

}  // namespace chainfs::filestore
