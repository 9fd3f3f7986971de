// The metrics HTTP server: /metrics in the Prometheus text format, pages added with Handle,
// 404 for the rest, and clear errors for a bad address or a taken port.
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "common/address.h"
#include "common/metrics/metrics_server.h"

namespace chainfs {
namespace {

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = MetricsServer::Start("127.0.0.1:0", &registry_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    client_ =
        std::make_unique<httplib::Client>("127.0.0.1", SplitHostPort(server_->address())->second);
  }

  prometheus::Registry registry_;
  std::unique_ptr<MetricsServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(MetricsServerTest, PortZeroBindsAFreePortAndReportsIt) {
  auto [host, port] = *SplitHostPort(server_->address());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_GT(port, 0);
  EXPECT_EQ(server_->url(), "http://" + server_->address() + "/metrics");
}

TEST_F(MetricsServerTest, MetricsServesTheRegistryInTheTextFormat) {
  prometheus::BuildCounter()
      .Name("chainfs_test_things_total")
      .Help("Things counted by the test.")
      .Register(registry_)
      .Add({{"kind", "a"}})
      .Increment(3);
  auto reply = client_->Get("/metrics");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(reply->body.find("# HELP chainfs_test_things_total Things counted by the test.\n"),
            std::string::npos);
  EXPECT_NE(reply->body.find("# TYPE chainfs_test_things_total counter\n"), std::string::npos);
  EXPECT_NE(reply->body.find("chainfs_test_things_total{kind=\"a\"} 3"), std::string::npos);
}

TEST_F(MetricsServerTest, ScrapeHooksRunBeforeEveryScrape) {
  int scrapes = 0;
  server_->OnScrape([&scrapes] { ++scrapes; });
  ASSERT_TRUE(client_->Get("/metrics"));
  ASSERT_TRUE(client_->Get("/metrics"));
  EXPECT_EQ(scrapes, 2);
}

TEST_F(MetricsServerTest, ProcessMetricsAreReadOnScrape) {
  auto reply = client_->Get("/metrics");
  ASSERT_TRUE(reply);
  for (const char* name :
       {"chainfs_process_cpu_seconds_total ", "chainfs_process_resident_memory_bytes ",
        "chainfs_process_threads ", "chainfs_process_open_fds "}) {
    const size_t at = reply->body.find(std::string("\n") + name);
    ASSERT_NE(at, std::string::npos) << name;
    const double value = std::stod(reply->body.substr(at + 1 + std::string(name).size()));
    if (std::string(name) != "chainfs_process_cpu_seconds_total ") {
      EXPECT_GT(value, 0) << name;
    }
  }
}

TEST_F(MetricsServerTest, UnknownPathsAnswerNotFound) {
  auto reply = client_->Get("/nothing-here");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
  reply = client_->Get("/");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
}

TEST_F(MetricsServerTest, HandledPathsAnswerWithTheHandlersReply) {
  server_->Handle("/status.json", [] {
    return HttpReply{.status = 200, .content_type = "application/json", .body = "{\"ok\":1}"};
  });
  auto reply = client_->Get("/status.json");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(reply->body, "{\"ok\":1}");
}

TEST_F(MetricsServerTest, TakenPortIsAnError) {
  prometheus::Registry other;
  auto second = MetricsServer::Start(server_->address(), &other);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(MetricsServer, MalformedAddressIsInvalidArgument) {
  prometheus::Registry registry;
  EXPECT_EQ(MetricsServer::Start("no-port", &registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsServer, StopRightAfterStartReturns) {
  prometheus::Registry registry;
  for (int i = 0; i < 20; ++i) {
    auto server = MetricsServer::Start("127.0.0.1:0", &registry);
    ASSERT_TRUE(server.ok());
    (*server)->Stop();
  }
}

}  // namespace
}  // namespace chainfs
