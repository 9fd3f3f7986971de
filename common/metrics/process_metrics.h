// The process's own figures, read from /proc/self when scraped: CPU seconds, resident
// memory, threads and open file descriptors.
#pragma once

#include <mutex>

#include "common/metrics/metrics.h"

namespace chainfs {

class ProcessMetrics {
 public:
  explicit ProcessMetrics(prometheus::Registry& registry);
  // Reads /proc/self and updates the metrics; thread-safe. A read that fails leaves them.
  void Refresh();

 private:
  std::mutex mu_;  // one Refresh at a time (the CPU counter moves by differences)
  double cpu_seconds_ = 0;
  prometheus::Counter& cpu_;
  prometheus::Gauge& resident_;
  prometheus::Gauge& threads_;
  prometheus::Gauge& open_fds_;
};

}  // namespace chainfs
