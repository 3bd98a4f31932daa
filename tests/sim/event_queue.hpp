// The simulator's only notion of the future: events ordered by (time, insertion sequence),
// so that simultaneous events run in the order they were made.
//
// A calendar queue. Time is cut into windows of 2^15 ns (~33 us); a ring of buckets holds
// the unsorted events of the next 2048 windows (~67 ms: a packet's hop over two 20-25 ms
// links lands in it), a heap those further ahead. The events that run next are sorted in
// `near_`, filled one window at a time. A push is an append to its window's bucket, a pop
// takes the next element of `near_`; both touch lines that were used moments ago, where a
// heap of tens of thousands of events missed the cache at every level of a sift. And the
// next few events are known in order (upcoming()), so the network can fetch what they will
// read while the current one runs.
#pragma once

#include "sim/event_heap.hpp"

#include "dht/base/time.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace ovl::sim {

class event_queue {
public:
    // How many events upcoming() shows at least, while that many are pending.
    static constexpr std::size_t lookahead = 8;

    // `last_seq`: the sequence number after which pending events are renumbered (tests
    // lower it to exercise renumbering).
    explicit event_queue(std::uint32_t last_seq = std::numeric_limits<std::uint32_t>::max())
        : ring_(buckets), last_seq_(last_seq) {}

    void push(timestamp at, std::uint32_t ref) {
        if (next_seq_ == last_seq_) renumber();
        place({at, next_seq_++, ref});
        ++size_;
        if (head_ == near_.size()) refill();
    }
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    const event& top() const { return near_[head_]; }
    event pop() {
        const event e = near_[head_++];
        --size_;
        if (near_.size() - head_ < lookahead) refill();
        return e;
    }
    // The pending events that run first, in order (the first is top()): exact until the
    // next push, which may come before some of them.
    std::span<const event> upcoming() const { return {near_.data() + head_, near_.size() - head_}; }

private:
    static constexpr int window_bits = 15;
    static constexpr std::size_t buckets = 2048;
    static constexpr std::size_t words = buckets / 64;

    static std::int64_t window(timestamp t) { return t.time_since_epoch().count() >> window_bits; }
    static std::size_t bucket(std::int64_t w) { return static_cast<std::size_t>(w) & (buckets - 1); }

    // `near_` holds every event of the windows before next_window_, sorted; the ring those
    // of next_window_ .. next_window_ + buckets - 1; the heap the later ones.
    void place(const event& e) {
        const std::int64_t w = window(e.at);
        if (w < next_window_) {
            const auto at = std::upper_bound(near_.begin() + static_cast<std::ptrdiff_t>(head_), near_.end(), e,
                                             event_heap::before);
            // An event due before all others (one scheduled with no delay) takes the slot the
            // last pop freed rather than moving the rest.
            if (at == near_.begin() + static_cast<std::ptrdiff_t>(head_) && head_ > 0)
                near_[--head_] = e;
            else
                near_.insert(at, e);
        } else if (w - next_window_ < static_cast<std::int64_t>(buckets)) {
            const std::size_t b = bucket(w);
            ring_[b].push_back(e);
            used_[b / 64] |= std::uint64_t{1} << (b % 64);
            ++ring_count_;
        } else {
            far_.push(e);
        }
    }

    // Moves the next windows holding events into near_ until it shows `lookahead` events.
    void refill() {
        while (near_.size() - head_ < lookahead && (ring_count_ > 0 || !far_.empty())) pull_next_window();
    }

    void pull_next_window() {
        // Empty windows are skipped: the next one is the ring's first used bucket or the
        // heap's first event, whichever is earlier.
        std::int64_t w = std::numeric_limits<std::int64_t>::max();
        if (ring_count_ > 0) {
            const std::size_t from = bucket(next_window_);
            w = next_window_ + static_cast<std::int64_t>((next_used_bucket(from) - from) & (buckets - 1));
        }
        if (!far_.empty()) w = std::min(w, window(far_.top().at));
        near_.erase(near_.begin(), near_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
        const std::size_t first = near_.size();
        // The bucket is window w's if it is used: no used bucket lies between next_window_
        // and w, and every event in the ring is less than `buckets` windows ahead.
        const std::size_t b = bucket(w);
        if (std::vector<event>& in_ring = ring_[b]; !in_ring.empty()) {
            near_.insert(near_.end(), in_ring.begin(), in_ring.end());
            ring_count_ -= in_ring.size();
            in_ring.clear();
            used_[b / 64] &= ~(std::uint64_t{1} << (b % 64));
        }
        while (!far_.empty() && window(far_.top().at) == w) near_.push_back(far_.pop());
        std::sort(near_.begin() + static_cast<std::ptrdiff_t>(first), near_.end(), event_heap::before);
        next_window_ = w + 1;
    }

    // The first used bucket at or cyclically after `from` (one must be used).
    std::size_t next_used_bucket(std::size_t from) const {
        std::size_t word = from / 64;
        std::uint64_t bits = used_[word] & (~std::uint64_t{0} << (from % 64));
        while (bits == 0) {
            word = (word + 1) % words;
            bits = used_[word];
        }
        return word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
    }

    // Sequence numbers are 32 bits to keep events small. Before they would run out, the
    // pending events get 0 .. n-1 in their current order, so every comparison stays exact.
    void renumber() {
        std::vector<event> all(near_.begin() + static_cast<std::ptrdiff_t>(head_), near_.end());
        near_.clear();
        head_ = 0;
        for (std::vector<event>& in_ring : ring_) {
            all.insert(all.end(), in_ring.begin(), in_ring.end());
            in_ring.clear();
        }
        used_.fill(0);
        ring_count_ = 0;
        for (const event& e : far_.take_all()) all.push_back(e);
        std::sort(all.begin(), all.end(), event_heap::before);
        std::uint32_t seq = 0;
        for (event& e : all) {
            e.seq = seq++;
            place(e);
        }
        next_seq_ = seq;
    }

    std::vector<event> near_;
    std::size_t head_ = 0;
    std::int64_t next_window_ = 0;
    std::vector<std::vector<event>> ring_;
    // A bit per bucket of ring_: set while it holds events.
    std::array<std::uint64_t, words> used_{};
    std::size_t ring_count_ = 0;
    event_heap far_;
    std::size_t size_ = 0;
    std::uint32_t next_seq_ = 0;
    std::uint32_t last_seq_;
};

} // namespace ovl::sim
