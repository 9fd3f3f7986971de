#include "common/metrics/rpc_metrics.h"

#include <functional>

namespace chainfs {

namespace {

using grpc::experimental::InterceptionHookPoints;

// grpc::StatusCode by number, as the `code` label shows it.
constexpr std::array<const char*, 17> kCodeNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// One call: counted in flight from its creation until its status is sent, or until gRPC
// destroys it without one (a cancelled stream), which counts as CANCELLED.
class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(RpcMetrics* metrics, RpcMetrics::Method* method)
      : metrics_(metrics), method_(method), start_(metrics->clock()->Now()) {
    method_->in_flight->Increment();
  }
  ~CallInterceptor() override { Finish(grpc::StatusCode::CANCELLED); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    if (finished_) return;
    finished_ = true;
    method_->in_flight->Decrement();
    metrics_->Finish(*method_, code, metrics_->clock()->Now() - start_);
  }

  RpcMetrics* const metrics_;
  RpcMetrics::Method* const method_;
  const TimePoint start_;
  bool finished_ = false;
};

}  // namespace

RpcMetrics::RpcMetrics(prometheus::Registry& registry, const Clock* clock)
    : clock_(clock),
      calls_(CounterFamily(registry, "chainfs_rpc_calls_total",
                           "gRPC calls served, by method and status code.")),
      duration_(HistogramFamily(registry, "chainfs_rpc_duration_seconds",
                                "Latency of served gRPC calls, arrival to status, in seconds.")),
      in_flight_(
          GaugeFamily(registry, "chainfs_rpc_in_flight_calls", "gRPC calls being served now.")) {}

RpcMetrics::~RpcMetrics() = default;

grpc::experimental::Interceptor* RpcMetrics::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallInterceptor(this, &Resolve(info->method()));
}

std::string RpcMetrics::MethodLabel(const char* path) {
  if (path == nullptr) return "unknown";
  std::string label = path[0] == '/' ? path + 1 : path;
  const size_t slash = label.find('/');
  const size_t dot = label.rfind('.', slash);
  if (slash != std::string::npos && dot != std::string::npos) label.erase(0, dot + 1);
  return label;
}

RpcMetrics::Method& RpcMetrics::Resolve(const char* path) {
  const std::string_view key = path == nullptr ? "" : path;
  const size_t start = std::hash<std::string_view>()(key) % kSlots;
  for (size_t i = 0; i < kSlots; ++i) {
    std::atomic<Method*>& slot = slots_[(start + i) % kSlots];
    Method* method = slot.load(std::memory_order_acquire);
    if (method == nullptr) {
      // `key` is not in the table (slots are never emptied): insert it here.
      std::lock_guard lock(mu_);
      method = slot.load(std::memory_order_acquire);
      if (method == nullptr) {
        method = &NewMethod(std::string(key), MethodLabel(path));
        slot.store(method, std::memory_order_release);
        return *method;
      }
    }
    if (method->path == key) return *method;
  }
  std::lock_guard lock(mu_);
  if (overflow_ == nullptr) overflow_ = &NewMethod("", "other");
  return *overflow_;
}

RpcMetrics::Method& RpcMetrics::NewMethod(const std::string& path, const std::string& name) {
  auto method = std::make_unique<Method>();
  method->path = path;
  method->name = name;
  method->duration = &duration_.Add({{"method", name}}, LatencyBuckets());
  method->in_flight = &in_flight_.Add({{"method", name}});
  methods_.push_back(std::move(method));
  return *methods_.back();
}

void RpcMetrics::Finish(Method& method, grpc::StatusCode code, Duration elapsed) {
  method.duration->Observe(ToSeconds(elapsed));
  size_t index = static_cast<size_t>(code);
  if (index >= kCodeNames.size()) index = grpc::StatusCode::UNKNOWN;
  prometheus::Counter* counter = method.calls[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the same counter for the same labels, so a race is harmless.
    counter = &calls_.Add({{"method", method.name}, {"code", kCodeNames[index]}});
    method.calls[index].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

}  // namespace chainfs
