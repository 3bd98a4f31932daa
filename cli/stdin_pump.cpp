#include "cli/stdin_pump.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace ovl::cli {

namespace {
// Large chunks: each one is a post to the event loop.
constexpr std::size_t chunk_size = 64 * 1024;
// How often the reader looks at the stop flag while stdin is idle.
constexpr int poll_ms = 100;
} // namespace

stdin_pump::stdin_pump(std::function<void(bytes)> on_data, std::function<void()> on_eof, std::size_t max_buffered)
    : on_data_(std::move(on_data)), on_eof_(std::move(on_eof)), max_buffered_(max_buffered), thread_([this] { run(); }) {}

stdin_pump::~stdin_pump() {
    stop_ = true;
    room_.notify_all();
    thread_.join();
}

void stdin_pump::consumed(std::size_t n) {
    if (n == 0) return;
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        buffered_ -= std::min(n, buffered_);
        wake = waiting_ && buffered_ <= max_buffered_ / 2;
    }
    if (wake) room_.notify_all();
}

void stdin_pump::run() {
    bytes buffer(chunk_size);
    while (!stop_) {
        {
            std::unique_lock lock(mutex_);
            // A full reader waits until half the limit has drained, so the loop thread
            // wakes it once per max_buffered / 2 bytes rather than after every write.
            if (buffered_ >= max_buffered_) {
                waiting_ = true;
                room_.wait_for(lock, std::chrono::milliseconds(poll_ms),
                               [this] { return stop_ || buffered_ <= max_buffered_ / 2; });
                waiting_ = false;
                continue;
            }
        }
        pollfd p{STDIN_FILENO, POLLIN, 0};
        const int ready = ::poll(&p, 1, poll_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) continue;
        const auto n = ready < 0 ? -1 : ::read(STDIN_FILENO, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            on_eof_();
            return;
        }
        {
            std::lock_guard lock(mutex_);
            buffered_ += static_cast<std::size_t>(n);
        }
        on_data_(bytes(buffer.begin(), buffer.begin() + n));
    }
}

} // namespace ovl::cli
