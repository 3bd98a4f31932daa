#include "overlay/mapping_observer.hpp"

#include <algorithm>
#include <map>
#include <numeric>

namespace ovl::overlay {

mapping_observer::mapping_observer(endpoint local, std::size_t max_observers)
    : local_(local), max_observers_(max_observers) {}

void mapping_observer::observe(const ip_address& observer, const endpoint& seen_as, std::uint64_t order) {
    for (auto& s : samples_) {
        if (s.observer == observer) {
            s.seen_as = seen_as;
            return;
        }
    }
    if (samples_.size() >= max_observers_) return;
    auto pos = std::upper_bound(samples_.begin(), samples_.end(), order,
                                [](std::uint64_t o, const sample& s) { return o < s.order; });
    samples_.insert(pos, {observer, seen_as, order});
}

std::optional<endpoint> mapping_observer::seen_by(const ip_address& observer) const {
    for (const auto& s : samples_)
        if (s.observer == observer) return s.seen_as;
    return std::nullopt;
}

mapping_behaviour mapping_observer::mapping() const {
    if (samples_.size() < 2) return mapping_behaviour::unknown;
    if (auto pub = public_endpoint()) {
        if (pub->address == local_.address && pub->port == local_.port) return mapping_behaviour::none;
        return mapping_behaviour::endpoint_independent;
    }
    return mapping_behaviour::endpoint_dependent;
}

std::optional<endpoint> mapping_observer::public_endpoint() const {
    // The endpoint a clear majority (and at least two observers) agree on.
    std::map<endpoint, int> votes;
    for (const auto& s : samples_) ++votes[s.seen_as];
    auto best = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    if (best == votes.end() || best->second < 2) return std::nullopt;
    if (best->second * 4 < static_cast<int>(samples_.size()) * 3) return std::nullopt;
    return best->first;
}

port_behaviour mapping_observer::ports() const {
    switch (mapping()) {
    case mapping_behaviour::unknown: return port_behaviour::unknown;
    case mapping_behaviour::none: return port_behaviour::preserving;
    case mapping_behaviour::endpoint_independent:
        return public_endpoint()->port == local_.port ? port_behaviour::preserving : port_behaviour::random;
    case mapping_behaviour::endpoint_dependent: break;
    }
    return port_delta() != 0 ? port_behaviour::sequential : port_behaviour::random;
}

int mapping_observer::port_delta() const {
    if (samples_.size() < 3) return 0;
    // Sequential when ports grow (or shrink) with the order we wrote to the observers,
    // in small steps: the step is their greatest common divisor, since mappings toward
    // nodes that never answered leave gaps.
    int step = 0;
    int direction = 0;
    for (std::size_t i = 1; i < samples_.size(); ++i) {
        const int diff = samples_[i].seen_as.port - samples_[i - 1].seen_as.port;
        const int sign = diff > 0 ? 1 : -1;
        if (diff == 0 || diff > 64 || diff < -64) return 0;
        if (direction != 0 && sign != direction) return 0;
        direction = sign;
        step = std::gcd(step, diff < 0 ? -diff : diff);
    }
    return step * direction;
}

int mapping_observer::agreeing_samples() const {
    switch (mapping()) {
    case mapping_behaviour::unknown: return 0;
    case mapping_behaviour::none:
    case mapping_behaviour::endpoint_independent: {
        auto pub = public_endpoint();
        return static_cast<int>(std::count_if(samples_.begin(), samples_.end(), [&](const sample& s) { return s.seen_as == *pub; }));
    }
    case mapping_behaviour::endpoint_dependent: break;
    }
    std::map<endpoint, int> distinct;
    for (const auto& s : samples_) ++distinct[s.seen_as];
    return static_cast<int>(distinct.size());
}

std::vector<endpoint> mapping_observer::distinct_observed() const {
    std::vector<endpoint> out;
    for (const auto& s : samples_)
        if (std::find(out.begin(), out.end(), s.seen_as) == out.end()) out.push_back(s.seen_as);
    return out;
}

} // namespace ovl::overlay

namespace ovl::overlay {

std::optional<endpoint> mapping_observer::latest() const {
    if (samples_.empty()) return std::nullopt;
    return samples_.back().seen_as;
}

} // namespace ovl::overlay
