#include "common/metrics/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace chainfs {

ProcessMetrics::ProcessMetrics(prometheus::Registry& registry)
    : cpu_(NewCounter(registry, "chainfs_process_cpu_seconds_total",
                      "CPU time used by the process (user and system), in seconds.")),
      resident_(NewGauge(registry, "chainfs_process_resident_memory_bytes",
                         "Resident memory of the process, in bytes.")),
      threads_(NewGauge(registry, "chainfs_process_threads", "Threads of the process.")),
      open_fds_(NewGauge(registry, "chainfs_process_open_fds",
                         "Open file descriptors of the process.")) {}

void ProcessMetrics::Refresh() {
  std::lock_guard lock(mu_);
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces: the fields counted here follow its ')'.
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    double ticks = 0;
    for (int n = 3; fields >> field; ++n) {
      if (n == 14 || n == 15) ticks += std::stod(field);  // utime, stime
      if (n == 20) threads_.Set(std::stod(field));
      if (n == 24) {
        resident_.Set(std::stod(field) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
        break;
      }
    }
    const double seconds = ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
    if (seconds > cpu_seconds_) cpu_.Increment(seconds - cpu_seconds_);
    cpu_seconds_ = std::max(cpu_seconds_, seconds);
  }
  std::error_code error;
  int fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++fds;
  }
  if (!error) open_fds_.Set(fds);
}

}  // namespace chainfs
