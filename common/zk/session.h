// What the real and the in-memory ZooKeeper keep alike about their session: whether one is
// connected (and waiting until one is) and who listens to its events.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "common/zk/zookeeper.h"

namespace chainfs::zk {

class SessionHolder : public ZooKeeper {
 public:
  void SetSessionListener(SessionFn fn) final;
  bool connected() const final;
  absl::Status WaitConnected(Duration timeout) final;

 protected:
  // Names the ensemble in WaitConnected's UNAVAILABLE answer.
  virtual std::string Describe() const = 0;
  // The listener now (copied under mu_, so call it without mu_ held).
  SessionFn Listener() const;
  // With mu_ held: the session is up (waiters wake) or down.
  void SetConnectedLocked(bool connected);

  // Guards connected_ and the listener, and whatever else a subclass guards with it.
  mutable std::mutex mu_;
  bool connected_ = false;

 private:
  std::condition_variable connected_cv_;
  SessionFn listener_;
};

}  // namespace chainfs::zk
