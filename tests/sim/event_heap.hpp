// A 4-ary min-heap of 16-byte events ordered by (time, sequence). The event queue keeps
// in it the events too far ahead for its calendar. Each node's four children share one
// 64-byte cache line, so a level of a sift costs one cache miss at most.
#pragma once

#include "dht/base/time.hpp"

#include <cstdint>
#include <new>
#include <vector>

namespace ovl::sim {

struct event {
    timestamp at;
    // Insertion order among the pending events (see event_queue::renumber).
    std::uint32_t seq = 0;
    // What happens: the network's own reference (a packet slot or a timer).
    std::uint32_t ref = 0;
};

// Hands out memory aligned to cache lines, so that the heap's sibling groups each fill one.
template <class T>
struct line_aligned_allocator {
    using value_type = T;
    static constexpr std::align_val_t alignment{64};

    line_aligned_allocator() = default;
    template <class U>
    line_aligned_allocator(const line_aligned_allocator<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
    void deallocate(T* p, std::size_t) { ::operator delete(p, alignment); }
    friend bool operator==(const line_aligned_allocator&, const line_aligned_allocator&) { return true; }
};

class event_heap {
public:
    event_heap() : heap_(offset) {}

    void push(const event& e) {
        std::size_t i = size();
        heap_.push_back(e);
        while (i > 0) {
            const std::size_t parent = (i - 1) / 4;
            if (!before(e, slot(parent))) break;
            slot(i) = slot(parent);
            i = parent;
        }
        slot(i) = e;
    }
    bool empty() const { return heap_.size() == offset; }
    std::size_t size() const { return heap_.size() - offset; }
    const event& top() const { return slot(0); }
    event pop() {
        const event result = slot(0);
        const event last = heap_.back();
        heap_.pop_back();
        const std::size_t n = size();
        if (n == 0) return result;
        std::size_t i = 0;
        for (;;) {
            const std::size_t first = 4 * i + 1;
            if (first >= n) break;
            // The children's own children fill the next four lines: fetch them while
            // these are compared, so the next level does not wait for memory.
            if (const std::size_t g = 4 * first + 1; g + 12 < n) {
                __builtin_prefetch(&slot(g));
                __builtin_prefetch(&slot(g + 4));
                __builtin_prefetch(&slot(g + 8));
                __builtin_prefetch(&slot(g + 12));
            }
            std::size_t best = first;
            const std::size_t end = first + 4 < n ? first + 4 : n;
            for (std::size_t c = first + 1; c < end; ++c)
                if (before(slot(c), slot(best))) best = c;
            if (!before(slot(best), last)) break;
            slot(i) = slot(best);
            i = best;
        }
        slot(i) = last;
        return result;
    }
    // Empties the heap, returning its events in no particular order.
    std::vector<event> take_all() {
        std::vector<event> all(heap_.begin() + offset, heap_.end());
        heap_.resize(offset);
        return all;
    }

    static bool before(const event& a, const event& b) {
        return a.at != b.at ? a.at < b.at : a.seq < b.seq;
    }

private:
    // Heap index i lives at heap_[i + offset], so that the children of i, 4i+1 .. 4i+4,
    // fill one aligned line (the first `offset` entries are unused).
    static constexpr std::size_t offset = 3;

    event& slot(std::size_t i) { return heap_[i + offset]; }
    const event& slot(std::size_t i) const { return heap_[i + offset]; }

    std::vector<event, line_aligned_allocator<event>> heap_;
};

} // namespace ovl::sim
