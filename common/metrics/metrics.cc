#include "common/metrics/metrics.h"

namespace chainfs {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return kBuckets;
}

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry,
                                                   const std::string& name,
                                                   const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           const std::string& name,
                                                           const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

prometheus::Counter& NewCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return CounterFamily(registry, name, help).Add({});
}

prometheus::Gauge& NewGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return GaugeFamily(registry, name, help).Add({});
}

prometheus::Histogram& NewLatencyHistogram(prometheus::Registry& registry, const std::string& name,
                                           const std::string& help) {
  return HistogramFamily(registry, name, help).Add({}, LatencyBuckets());
}

prometheus::Registry& RegistryOr(prometheus::Registry* registry,
                                 std::unique_ptr<prometheus::Registry>& own) {
  if (registry != nullptr) return *registry;
  if (!own) own = std::make_unique<prometheus::Registry>();
  return *own;
}

}  // namespace chainfs
