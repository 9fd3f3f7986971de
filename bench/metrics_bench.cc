// The cost of metrics on the hot path, measured against a baseline in the same run:
//   - gRPC: DoCreate calls per second against an in-process NameServer service that answers
//     at once (the lightest create there is, so the ratio is an upper bound on the cost for
//     real creates), served without and with the RpcMetrics interceptor, rounds interleaved;
//   - FUSE: what the mount adds to each operation (two clock reads and a histogram
//     observation), in nanoseconds.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics/rpc_metrics.h"
#include "proto/chainfs.grpc.pb.h"

namespace chainfs {
namespace {

class InstantNameServer final : public v1::NameServer::CallbackService {
  grpc::ServerUnaryReactor* DoCreate(grpc::CallbackServerContext* context,
                                     const v1::DoCreateRequest*,
                                     v1::DoCreateReply* reply) override {
    reply->set_version(1);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// Calls per second of `clients` threads making `calls` DoCreate calls each.
double CreatesPerSecond(bool metrics, int clients, int calls) {
  InstantNameServer service;
  prometheus::Registry registry;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  if (metrics) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<RpcMetrics>(registry, SystemClock::Get()));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  auto server = builder.BuildAndStart();
  auto channel =
      grpc::CreateChannel(fmt::format("127.0.0.1:{}", port), grpc::InsecureChannelCredentials());
  auto stub = v1::NameServer::NewStub(channel);
  v1::DoCreateRequest req;
  req.set_path("/bench/file");
  const TimePoint start = SystemClock::Get()->Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      for (int i = 0; i < calls; ++i) {
        grpc::ClientContext context;
        v1::DoCreateReply reply;
        if (!stub->DoCreate(&context, req, &reply).ok()) std::abort();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = ToSeconds(SystemClock::Get()->Now() - start);
  server->Shutdown();
  return clients * calls / seconds;
}

int Run(int argc, char** argv) {
  CLI::App app{"metrics_bench: the cost of metrics on the hot path"};
  int calls = 20000, rounds = 3, clients = 4;
  app.add_option("--calls", calls, "calls per client per round");
  app.add_option("--rounds", rounds, "interleaved rounds without and with metrics");
  app.add_option("--clients", clients, "concurrent clients");
  CLI11_PARSE(app, argc, argv);

  double off = 0, on = 0;
  for (int r = 0; r < rounds; ++r) {
    const double a = CreatesPerSecond(false, clients, calls);
    const double b = CreatesPerSecond(true, clients, calls);
    fmt::print("round {}: {:.0f} creates/s without metrics, {:.0f} with ({:+.1f}%)\n", r + 1, a, b,
               (b / a - 1) * 100);
    off += a;
    on += b;
  }
  fmt::print("gRPC DoCreate, {} clients: {:.0f}/s without metrics, {:.0f}/s with: ratio {:.3f}\n",
             clients, off / rounds, on / rounds, on / off);

  prometheus::Registry registry;
  auto& histogram = HistogramFamily(registry, "bench_seconds", "bench").Add({}, LatencyBuckets());
  const Clock* clock = SystemClock::Get();
  const int n = 2'000'000;
  const TimePoint start = clock->Now();
  for (int i = 0; i < n; ++i) {
    const TimePoint t = clock->Now();
    histogram.Observe(ToSeconds(clock->Now() - t));
  }
  fmt::print("FUSE operation timing: {:.0f} ns per operation\n",
             ToSeconds(clock->Now() - start) / n * 1e9);
  return 0;
}

}  // namespace
}  // namespace chainfs

int main(int argc, char** argv) { return chainfs::Run(argc, argv); }
