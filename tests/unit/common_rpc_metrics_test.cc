// The gRPC server interceptor: calls counted by method and status code, their latency on the
// injected clock, and the calls in flight.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/metrics/rpc_metrics.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs {
namespace {

// The value of the sample `name` with `labels` (all of them, in order), or -1 when absent.
double Sample(prometheus::Registry& registry, const std::string& family_name,
              const prometheus::Labels& labels, const std::string& field = "") {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != family_name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      prometheus::Labels have;
      for (const auto& pair : metric.label) have[pair.name] = pair.value;
      if (have != labels) continue;
      if (field == "count") return static_cast<double>(metric.histogram.sample_count);
      if (field == "sum") return metric.histogram.sample_sum;
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
    }
  }
  return -1;
}

// StatFs succeeds and takes 3 ms of the fake clock; Stat answers NOT_FOUND.
class FakeNameServer final : public v1::NameServer::CallbackService {
 public:
  FakeNameServer(FakeClock* clock, prometheus::Registry* registry)
      : clock_(clock), registry_(registry) {}

  grpc::ServerUnaryReactor* StatFs(grpc::CallbackServerContext* context, const v1::StatFsRequest*,
                                   v1::StatFsReply*) override {
    in_flight_seen_ =
        Sample(*registry_, "chainfs_rpc_in_flight_calls", {{"method", "NameServer/StatFs"}});
    clock_->Advance(std::chrono::milliseconds(3));
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* context, const v1::StatRequest*,
                                 v1::StatReply*) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such name"));
    return reactor;
  }

  double in_flight_seen_ = -1;

 private:
  FakeClock* clock_;
  prometheus::Registry* registry_;
};

class RpcMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<RpcMetrics>(registry_, &clock_));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::NameServer::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                        grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status CallStatFs() {
    grpc::ClientContext context;
    v1::StatFsReply reply;
    return stub_->StatFs(&context, v1::StatFsRequest(), &reply);
  }
  grpc::Status CallStat() {
    grpc::ClientContext context;
    v1::StatReply reply;
    return stub_->Stat(&context, v1::StatRequest(), &reply);
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  FakeNameServer service_{&clock_, &registry_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::NameServer::Stub> stub_;
};

TEST_F(RpcMetricsTest, CallsAreCountedByMethodAndStatusCode) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(CallStatFs().ok());
  for (int i = 0; i < 2; ++i) ASSERT_EQ(CallStat().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Sample(registry_, "chainfs_rpc_calls_total",
                   {{"code", "OK"}, {"method", "NameServer/StatFs"}}),
            3);
  EXPECT_EQ(Sample(registry_, "chainfs_rpc_calls_total",
                   {{"code", "NOT_FOUND"}, {"method", "NameServer/Stat"}}),
            2);
  EXPECT_EQ(
      Sample(registry_, "chainfs_rpc_calls_total", {{"code", "OK"}, {"method", "NameServer/Stat"}}),
      -1);
}

TEST_F(RpcMetricsTest, LatencyIsMeasuredOnTheInjectedClock) {
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(CallStatFs().ok());
  const prometheus::Labels method = {{"method", "NameServer/StatFs"}};
  EXPECT_EQ(Sample(registry_, "chainfs_rpc_duration_seconds", method, "count"), 2);
  EXPECT_DOUBLE_EQ(Sample(registry_, "chainfs_rpc_duration_seconds", method, "sum"), 0.006);
}

TEST_F(RpcMetricsTest, ACallIsInFlightWhileItsHandlerRunsAndNotAfter) {
  ASSERT_TRUE(CallStatFs().ok());
  EXPECT_EQ(service_.in_flight_seen_, 1);
  EXPECT_EQ(Sample(registry_, "chainfs_rpc_in_flight_calls", {{"method", "NameServer/StatFs"}}), 0);
}

TEST(RpcMetricsLabel, MethodLabelDropsThePackageAndLeadingSlash) {
  EXPECT_EQ(RpcMetrics::MethodLabel("/chainfs.v1.NameServer/DoCreate"), "NameServer/DoCreate");
  EXPECT_EQ(
      RpcMetrics::MethodLabel("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
      "ServerReflection/ServerReflectionInfo");
  EXPECT_EQ(RpcMetrics::MethodLabel("/Plain/Call"), "Plain/Call");
  EXPECT_EQ(RpcMetrics::MethodLabel(nullptr), "unknown");
}

}  // namespace
}  // namespace chainfs
