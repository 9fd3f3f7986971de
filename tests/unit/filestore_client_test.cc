// FileStoreClient without any FileStore: address validation and the bounded channel cache.
#include "common/client/filestore_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace chainfs {
namespace {

TEST(FileStoreClientTest, Addresses_OnlyHostAndNumericPortAreDialled) {
  for (const char* good : {"127.0.0.1:1", "localhost:65535", "fs-1.example.com:7000", "[::1]:9000",
                           "[fe80::1]:80", "my_host:22"}) {
    EXPECT_TRUE(ValidateFileStoreAddress(good).ok()) << good;
  }
  for (const char* bad : {"unix:/path:1", "unix:///tmp/sock:1", "dns:///host:1", "host:0",
                          "host:65536", "host:", "host:abc", "host:+1", "host:-1", ":80", "no-port",
                          "a b:1", "[::1:80", "[zz]:80", "-host:1", "host/x:1", "ipv4:1.2.3.4:5"}) {
    EXPECT_EQ(ValidateFileStoreAddress(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  FileStoreChannels channels(4);
  EXPECT_EQ(channels.Get("unix:/path:1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(channels.size(), 0u);
  FileStoreClient client;
  EXPECT_EQ(client.Delete("unix:/path:1", "/x", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.cached_channels(), 0u);
}

TEST(FileStoreClientTest, ChannelCache_BoundedAndLeastRecentlyUsedGoesFirst) {
  FileStoreChannels channels(3);
  auto a = *channels.Get("127.0.0.1:1");
  auto b = *channels.Get("127.0.0.1:2");
  EXPECT_EQ(*channels.Get("127.0.0.1:1"), a);  // cached, and now the most recent
  channels.Get("127.0.0.1:3").IgnoreError();
  channels.Get("127.0.0.1:4").IgnoreError();  // 2 is the least recently used: dropped
  EXPECT_EQ(channels.size(), 3u);
  EXPECT_EQ(*channels.Get("127.0.0.1:1"), a);
  EXPECT_NE(*channels.Get("127.0.0.1:2"), b);
}

TEST(FileStoreClientTest, ChannelCache_DefaultHoldsAtMost256) {
  FileStoreChannels channels(FileStoreClientSettings().max_channels);
  for (int port = 1; port <= 2000; ++port) {
    ASSERT_TRUE(channels.Get(fmt::format("127.0.0.1:{}", port)).ok());
  }
  EXPECT_EQ(channels.size(), 256u);
}

}  // namespace
}  // namespace chainfs
