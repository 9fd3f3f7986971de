// The object store tests' fixture: a store in a fresh directory, on a FaultEnv, with helpers
// to write and read whole objects.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "common/checksum.h"
#include "common/fault_env.h"
#include "common/file_util.h"
#include "common/status.h"
#include "servers/filestore/object_store.h"

namespace chainfs::filestore {

namespace fs = std::filesystem;

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("chainfs-objstore-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }
  // A fresh store on the same directory, through `env` (fault_ unless given: a restart
  // after a crash reopens with Env::Default()).
  void Reopen(int64_t capacity = 0, Env* env = nullptr) {
    store_.reset();
    auto store = ObjectStore::Open({.dir = (root_ / "data").string(),
                                    .capacity = capacity,
                                    .env = env != nullptr ? env : &fault_});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  static v1::FileInfo Info(const std::string& name, int64_t version) {
    v1::FileInfo info;
    info.set_name(name);
    info.set_version(version);
    info.mutable_attributes()->set_mode(0644);
    return info;
  }
  absl::StatusOr<v1::FileInfo> Put(const std::string& name, int64_t version,
                                   const std::string& content) {
    CHAINFS_ASSIGN_OR_RETURN(auto writer, store_->StartCreate(Info(name, version)));
    for (size_t pos = 0; pos < content.size(); pos += 100000) {
      CHAINFS_RETURN_IF_ERROR(writer->Append(std::string_view(content).substr(pos, 100000)));
    }
    return writer->Commit(static_cast<int64_t>(content.size()), Checksum(content));
  }
  absl::StatusOr<std::string> Get(const std::string& name, int64_t version = 0) {
    CHAINFS_ASSIGN_OR_RETURN(auto reader, store_->OpenObject(name, version));
    std::string out(static_cast<size_t>(reader->info().size()), '\0');
    CHAINFS_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(0, out.size(), out.data()));
    if (n != out.size()) return absl::DataLossError("short");
    return out;
  }
  // Every file path under the test root.
  std::set<std::string> AllFiles() {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root_)) {
      if (e.is_regular_file()) out.insert(e.path().string());
    }
    return out;
  }
  static std::string Content(size_t size, int seed = 1) {
    std::mt19937 rng(seed);
    std::string s(size, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }

  // Paths of the temp files under the test root.
  std::set<std::string> TempFiles() {
    std::set<std::string> out;
    for (const std::string& path : AllFiles()) {
      if (path.ends_with(kTempSuffix)) out.insert(path);
    }
    return out;
  }

  fs::path root_;
  FaultEnv fault_;  // every store of the test runs on it; healthy until told otherwise
  std::unique_ptr<ObjectStore> store_;
};

}  // namespace chainfs::filestore
