// Every gRPC call a daemon serves, counted by a server interceptor that Daemon::Serve adds:
//   chainfs_rpc_calls_total{method,code}       calls finished, by status code
//   chainfs_rpc_duration_seconds{method}        latency from arrival to status sent
//   chainfs_rpc_in_flight_calls{method}         calls started and not finished
// `method` is "Service/Method" ("NameServer/DoCreate"). Each method's metrics are resolved on
// its first call and found lock-free after, so a call costs a few atomic operations.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics/metrics.h"

namespace chainfs {

class RpcMetrics final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `registry` and `clock` outlive the server this factory is given to.
  RpcMetrics(prometheus::Registry& registry, const Clock* clock);
  ~RpcMetrics() override;

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // One method's metrics; the per-code counters appear on first use.
  struct Method {
    std::string path;  // as gRPC names it
    std::string name;  // the label
    prometheus::Histogram* duration;
    prometheus::Gauge* in_flight;
    std::array<std::atomic<prometheus::Counter*>, 17> calls{};  // by grpc::StatusCode
  };
  // Records a finished call of `method`.
  void Finish(Method& method, grpc::StatusCode code, Duration elapsed);
  // "Service/Method" of a gRPC method path ("/chainfs.NameServer/DoCreate").
  static std::string MethodLabel(const char* path);
  const Clock* clock() const { return clock_; }

 private:
  Method& Resolve(const char* path);
  Method& NewMethod(const std::string& path, const std::string& name);

  // Open addressing by the method's path; a slot, once set (release, after its Method is
  // complete), never changes, so readers need no lock.
  static constexpr size_t kSlots = 256;

  const Clock* const clock_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  std::array<std::atomic<Method*>, kSlots> slots_{};
  std::mutex mu_;  // serialises inserting a method
  std::vector<std::unique_ptr<Method>> methods_;
  Method* overflow_ = nullptr;  // every method past kSlots
};

}  // namespace chainfs
