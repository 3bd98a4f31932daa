#include "overlay/sent_destinations.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

namespace ovl::overlay {
namespace {

// Tables start small (a simulation holds thousands of nodes) and double as needed.
constexpr std::size_t first_slots = 64;
constexpr std::uint16_t no_port = 0;

} // namespace

sent_destinations::sent_destinations(random_source& rng, std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      endpoint_slots_(std::min(first_slots, std::bit_ceil(2 * capacity_))),
      address_slots_(endpoint_slots_.size()) {
    rng.fill(key_);
}

std::uint64_t sent_destinations::hash(const ip_address& a, std::uint16_t port) const {
    std::array<std::uint8_t, 19> in{};
    const auto n = a.size();
    std::memcpy(in.data(), a.data(), n);
    in[n] = static_cast<std::uint8_t>(port >> 8);
    in[n + 1] = static_cast<std::uint8_t>(port);
    in[n + 2] = a.is_v6() ? 6 : 4;
    std::uint64_t h = 0;
    static_assert(crypto_shorthash_BYTES == sizeof h);
    crypto_shorthash(reinterpret_cast<unsigned char*>(&h), in.data(), n + 3, key_.data());
    return h;
}

template <class Slots, class Key>
auto& sent_destinations::find_slot(Slots& slots, const Key& key, std::uint64_t h) {
    // At most half full, so a free slot ends every probe sequence.
    const std::size_t mask = slots.size() - 1;
    std::size_t i = h & mask;
    while (slots[i].used && !(slots[i].value == key)) i = (i + 1) & mask;
    return slots[i];
}

void sent_destinations::record(const endpoint& to) {
    const auto h = hash(to.address, to.port);
    if (find_slot(endpoint_slots_, to, h).used) return;
    if (endpoint_count_ >= capacity_) clear();
    find_slot(endpoint_slots_, to, h) = {to, true};
    ++endpoint_count_;
    // Every new address comes with a new endpoint, so the endpoint count bounds both tables.
    auto& a = find_slot(address_slots_, to.address, hash(to.address, no_port));
    if (!a.used) a = {to.address, true, address_count_++};
    if (2 * endpoint_count_ > endpoint_slots_.size()) grow();
}

bool sent_destinations::contains(const endpoint& to) const {
    return find_slot(endpoint_slots_, to, hash(to.address, to.port)).used;
}

bool sent_destinations::contains(const ip_address& to) const {
    return find_slot(address_slots_, to, hash(to, no_port)).used;
}

std::optional<std::uint64_t> sent_destinations::first_write(const ip_address& to) const {
    const auto& a = find_slot(address_slots_, to, hash(to, no_port));
    if (!a.used) return std::nullopt;
    return a.order;
}

void sent_destinations::grow() {
    auto old_endpoints = std::exchange(endpoint_slots_, std::vector<endpoint_slot>(2 * endpoint_slots_.size()));
    auto old_addresses = std::exchange(address_slots_, std::vector<address_slot>(2 * address_slots_.size()));
    for (const auto& e : old_endpoints)
        if (e.used) find_slot(endpoint_slots_, e.value, hash(e.value.address, e.value.port)) = e;
    for (const auto& a : old_addresses)
        if (a.used) find_slot(address_slots_, a.value, hash(a.value, no_port)) = a;
}

void sent_destinations::clear() {
    std::fill(endpoint_slots_.begin(), endpoint_slots_.end(), endpoint_slot{});
    std::fill(address_slots_.begin(), address_slots_.end(), address_slot{});
    endpoint_count_ = 0;
    address_count_ = 0;
}

} // namespace ovl::overlay
