#include "cli/stdin_pump.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace ovl::cli {

namespace {
constexpr std::size_t chunk_size = 16384;
// How often the reader looks at the stop flag while stdin is idle.
constexpr int poll_ms = 100;
} // namespace

stdin_pump::stdin_pump(std::function<void(bytes)> on_data, std::function<void()> on_eof)
    : on_data_(std::move(on_data)), on_eof_(std::move(on_eof)), thread_([this] { run(); }) {}

stdin_pump::~stdin_pump() {
    stop_ = true;
    thread_.join();
}

void stdin_pump::run() {
    bytes buffer(chunk_size);
    while (!stop_) {
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
        on_data_(bytes(buffer.begin(), buffer.begin() + n));
    }
}

} // namespace ovl::cli
