// Reads stdin on its own thread and hands each chunk (and the end of input) to a
// callback, so the event loop never blocks on the terminal or a pipe. The callbacks run
// on the reader thread: post them to the loop. The reader stops reading once `max_buffered`
// bytes were handed over and not yet reported `consumed`, and goes on when half of them
// were, so piping a large file never holds much more than that in memory.
#pragma once

#include "dht/base/datagram.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ovl::cli {

class stdin_pump {
public:
    // `on_data` gets each chunk read; `on_eof` runs once, at end of input or a read error.
    stdin_pump(std::function<void(bytes)> on_data, std::function<void()> on_eof,
               std::size_t max_buffered = 4u << 20);
    ~stdin_pump();
    stdin_pump(const stdin_pump&) = delete;
    stdin_pump& operator=(const stdin_pump&) = delete;

    // `n` bytes handed over earlier have left the process (any thread).
    void consumed(std::size_t n);

private:
    void run();

    std::function<void(bytes)> on_data_;
    std::function<void()> on_eof_;
    std::size_t max_buffered_;
    std::mutex mutex_;
    std::condition_variable room_;
    std::size_t buffered_ = 0;
    bool waiting_ = false;   // the reader waits for room
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace ovl::cli
