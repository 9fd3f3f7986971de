// Private to common/zk: the thread on which a ZooKeeper wrapper runs watch and session
// callbacks, in the order they were posted. Callbacks may block and may make ZooKeeper
// calls; posting never blocks on them.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace chainfs::zk {

class EventLoop {
 public:
  EventLoop() : thread_([this] { Run(); }) {}
  ~EventLoop() { Stop(); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      queue_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

  // Waits for the running callback, drops what is still queued; later posts are ignored.
  // Must not be called from one of the loop's own callbacks.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Blocks until everything posted so far has run (returns at once on the loop's thread).
  void WaitIdle() {
    if (std::this_thread::get_id() == thread_.get_id()) return;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopped_ || (queue_.empty() && !running_); });
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
      if (stopped_) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
      lock.unlock();
      fn();
      lock.lock();
      running_ = false;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool running_ = false;
  bool stopped_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace chainfs::zk
