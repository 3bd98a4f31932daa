// The simulator's only notion of the future: a binary min-heap of small events ordered by
// (time, insertion sequence), so that simultaneous events run in the order they were made.
#pragma once

#include "dht/base/time.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ovl::sim {

struct event {
    enum class kind : std::uint8_t { arrive_outside, arrive_inside, timer };

    timestamp at;
    std::uint64_t seq = 0;
    kind what = kind::timer;
    // arrive_*: receiving node and packet slot; timer: binding index and generation.
    std::uint32_t target = 0;
    std::uint64_t arg = 0;
};

class event_queue {
public:
    void push(timestamp at, event::kind what, std::uint32_t target, std::uint64_t arg) {
        heap_.push_back(event{at, next_seq_++, what, target, arg});
        std::push_heap(heap_.begin(), heap_.end(), later);
    }
    bool empty() const { return heap_.empty(); }
    std::size_t size() const { return heap_.size(); }
    const event& top() const { return heap_.front(); }
    event pop() {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        event e = heap_.back();
        heap_.pop_back();
        return e;
    }

private:
    static bool later(const event& a, const event& b) {
        return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }

    std::vector<event> heap_;
    std::uint64_t next_seq_ = 0;
};

} // namespace ovl::sim
