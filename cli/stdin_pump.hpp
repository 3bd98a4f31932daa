// Reads stdin on its own thread and hands each chunk (and the end of input) to a
// callback, so the event loop never blocks on the terminal or a pipe. The callbacks run
// on the reader thread: post them to the loop.
#pragma once

#include "dht/base/datagram.hpp"

#include <atomic>
#include <functional>
#include <thread>

namespace ovl::cli {

class stdin_pump {
public:
    // `on_data` gets each chunk read; `on_eof` runs once, at end of input or a read error.
    stdin_pump(std::function<void(bytes)> on_data, std::function<void()> on_eof);
    ~stdin_pump();
    stdin_pump(const stdin_pump&) = delete;
    stdin_pump& operator=(const stdin_pump&) = delete;

private:
    void run();

    std::function<void(bytes)> on_data_;
    std::function<void()> on_eof_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace ovl::cli
