#include <gtest/gtest.h>

#include "fuse/mount.h"

namespace chainfs::mount {
namespace {

TEST(ApplyMountOptions, OwnKeysSetFields_FstabNoiseDropped_RestGoesToFuse) {
  MountOptions options;
  ASSERT_TRUE(ApplyMountOptions("defaults,_netdev,noauto,x-systemd.automount,allow_other,"
                                "cache_dir=/var/tmp/c,attr_timeout=250ms,entry_timeout=2s,"
                                "negative_timeout=500ms,"
                                "zk=h1:2181,h2:2181/c,ro",
                                &options)
                  .ok());
  EXPECT_EQ(options.cache_dir, "/var/tmp/c");
  EXPECT_EQ(options.attr_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(options.entry_timeout, std::chrono::seconds(2));
  EXPECT_EQ(options.negative_timeout, std::chrono::milliseconds(500));
  // A comma inside zk= splits the option: fstab users write the spec as the source instead.
  EXPECT_EQ(options.zk, "h1:2181");
  EXPECT_EQ(options.allow_other, true);
  EXPECT_EQ(options.fuse_options, (std::vector<std::string>{"h2:2181/c", "ro"}));
}

TEST(ApplyMountOptions, TlsKeysSetTheTlsSettings) {
  MountOptions options;
  EXPECT_EQ(options.tls.name, "client");
  ASSERT_TRUE(ApplyMountOptions("tls_dir=/etc/chainfs/tls,tls_name=alice", &options).ok());
  EXPECT_EQ(options.tls.dir, "/etc/chainfs/tls");
  EXPECT_EQ(options.tls.name, "alice");
  EXPECT_FALSE(options.tls.insecure);
  ASSERT_TRUE(ApplyMountOptions("insecure", &options).ok());
  EXPECT_TRUE(options.tls.insecure);
  EXPECT_TRUE(options.fuse_options.empty());
}

TEST(ApplyMountOptions, RelatimeAndUploadsOfChangesByDefault_OptionsTurnThemOff) {
  MountOptions options;
  EXPECT_EQ(options.atime, AtimeMode::kRelatime);
  EXPECT_FALSE(options.whole_uploads);
  ASSERT_TRUE(ApplyMountOptions("noatime,whole_uploads", &options).ok());
  EXPECT_EQ(options.atime, AtimeMode::kNoatime);
  EXPECT_TRUE(options.whole_uploads);
  EXPECT_TRUE(options.fuse_options.empty());
}

TEST(FuseOptions, DefaultPermissionsAlways_AllowOtherByDefaultOnlyForRoot) {
  MountOptions options;
  EXPECT_EQ(FuseOptions(options, /*as_root=*/true),
            "fsname=chainfs,subtype=chainfs,default_permissions,allow_other");
  EXPECT_EQ(FuseOptions(options, /*as_root=*/false),
            "fsname=chainfs,subtype=chainfs,default_permissions");
  ASSERT_TRUE(ApplyMountOptions("allow_other", &options).ok());
  EXPECT_EQ(FuseOptions(options, /*as_root=*/false),
            "fsname=chainfs,subtype=chainfs,default_permissions,allow_other");
}

TEST(FuseOptions, NoAllowOther_TurnsTheRootDefaultOff) {
  MountOptions options;
  ASSERT_TRUE(ApplyMountOptions("noallow_other", &options).ok());
  EXPECT_EQ(options.allow_other, false);
  EXPECT_TRUE(options.fuse_options.empty());
  EXPECT_EQ(FuseOptions(options, /*as_root=*/true),
            "fsname=chainfs,subtype=chainfs,default_permissions");
}

TEST(FuseOptions, AllowRoot_ReplacesTheAllowOtherDefault) {
  MountOptions options;
  ASSERT_TRUE(ApplyMountOptions("allow_root", &options).ok());
  EXPECT_EQ(FuseOptions(options, /*as_root=*/true),
            "fsname=chainfs,subtype=chainfs,default_permissions,allow_root");
}

TEST(ApplyMountOptions, BadDuration_IsAnError) {
  MountOptions options;
  EXPECT_FALSE(ApplyMountOptions("attr_timeout=soon", &options).ok());
}

TEST(ApplyMountOptions, ReadAheadKb_SetsTheKernelReadAhead_GarbageIsAnError) {
  MountOptions options;
  EXPECT_GT(options.read_ahead_kb, 128);  // the kernel's default cuts reads into 128 KiB
  ASSERT_TRUE(ApplyMountOptions("read_ahead_kb=1024", &options).ok());
  EXPECT_EQ(options.read_ahead_kb, 1024);
  ASSERT_TRUE(ApplyMountOptions("read_ahead_kb=0", &options).ok());
  EXPECT_EQ(options.read_ahead_kb, 0);
  EXPECT_TRUE(options.fuse_options.empty());
  EXPECT_FALSE(ApplyMountOptions("read_ahead_kb=lots", &options).ok());
  EXPECT_FALSE(ApplyMountOptions("read_ahead_kb=-1", &options).ok());
}

}  // namespace
}  // namespace chainfs::mount
