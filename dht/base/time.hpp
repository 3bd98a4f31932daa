// Time as the cores see it: a monotonic instant handed in by the caller. Cores never
// read a clock; the Asio edge passes steady_clock readings, the simulator virtual time.
#pragma once

#include <chrono>

namespace ovl {

// A clock with no now(): only callers that own real or virtual time can make instants.
struct core_clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<core_clock, duration>;
    static constexpr bool is_steady = true;
};

using duration = core_clock::duration;
using timestamp = core_clock::time_point;

inline timestamp timestamp_from_steady(std::chrono::steady_clock::time_point t) {
    return timestamp{std::chrono::duration_cast<duration>(t.time_since_epoch())};
}

inline double to_seconds(duration d) {
    return std::chrono::duration<double>(d).count();
}

} // namespace ovl
