// Small helpers every metrics user shares: the one set of latency buckets, families built in
// one line, and a registry to fall back on when a class is given none (unit tests).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace chainfs {

// Latency buckets in seconds, 100 µs to 10 s, for RPCs, FUSE operations, commits and flushes.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help);
prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry,
                                                   const std::string& name,
                                                   const std::string& help);
prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           const std::string& name,
                                                           const std::string& help);

// An unlabelled metric of a new family.
prometheus::Counter& NewCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help);
prometheus::Gauge& NewGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help);
prometheus::Histogram& NewLatencyHistogram(prometheus::Registry& registry, const std::string& name,
                                           const std::string& help);

// `registry` when given, else a registry of the caller's own (kept in `own`) that nobody
// scrapes: classes take a nullable registry and register unconditionally.
prometheus::Registry& RegistryOr(prometheus::Registry* registry,
                                 std::unique_ptr<prometheus::Registry>& own);

// Seconds between two steady time points, as histograms take them.
template <typename Duration>
double ToSeconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace chainfs
