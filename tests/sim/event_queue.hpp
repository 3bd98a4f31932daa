// The simulator's only notion of the future: a 4-ary min-heap of small events ordered by
// (time, insertion sequence), so that simultaneous events run in the order they were made.
// 4-ary and 24-byte events because heap sifting is the hottest loop of a large run.
#pragma once

#include "dht/base/time.hpp"

#include <cstdint>
#include <vector>

namespace ovl::sim {

struct event {
    enum class kind : std::uint8_t { arrive_outside, arrive_inside, timer };

    timestamp at;
    std::uint64_t seq = 0;
    // Kind in the top two bits, then the receiving node or the timer's binding index.
    std::uint32_t tagged_target = 0;
    // arrive_*: packet slot; timer: the binding's timer generation.
    std::uint32_t arg = 0;

    kind what() const { return static_cast<kind>(tagged_target >> 30); }
    std::uint32_t target() const { return tagged_target & 0x3fffffffu; }
};

class event_queue {
public:
    void push(timestamp at, event::kind what, std::uint32_t target, std::uint32_t arg) {
        const event e{at, next_seq_++, static_cast<std::uint32_t>(what) << 30 | target, arg};
        std::size_t i = heap_.size();
        heap_.push_back(e);
        while (i > 0) {
            const std::size_t parent = (i - 1) / 4;
            if (!before(e, heap_[parent])) break;
            heap_[i] = heap_[parent];
            i = parent;
        }
        heap_[i] = e;
    }
    bool empty() const { return heap_.empty(); }
    std::size_t size() const { return heap_.size(); }
    const event& top() const { return heap_.front(); }
    event pop() {
        const event result = heap_.front();
        const event last = heap_.back();
        heap_.pop_back();
        const std::size_t n = heap_.size();
        if (n == 0) return result;
        std::size_t i = 0;
        for (;;) {
            const std::size_t first = 4 * i + 1;
            if (first >= n) break;
            std::size_t best = first;
            const std::size_t end = first + 4 < n ? first + 4 : n;
            for (std::size_t c = first + 1; c < end; ++c)
                if (before(heap_[c], heap_[best])) best = c;
            if (!before(heap_[best], last)) break;
            heap_[i] = heap_[best];
            i = best;
        }
        heap_[i] = last;
        return result;
    }

private:
    static bool before(const event& a, const event& b) {
        return a.at != b.at ? a.at < b.at : a.seq < b.seq;
    }

    std::vector<event> heap_;
    std::uint64_t next_seq_ = 0;
};

} // namespace ovl::sim
