#include "overlay/introducer_client.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/dht_id.hpp"
#include "overlay/introducer_service.hpp"
#include "overlay/methods.hpp"

#include <algorithm>

namespace ovl::overlay {

namespace {
constexpr int misses_before_drop = 2;
constexpr auto retry_election_after = std::chrono::seconds(5);
} // namespace

introducer_client::introducer_client(dht::node& dht, const identity& self, settings s, logger_ptr log)
    : dht_(dht), self_(self), settings_(std::move(s)), log_(std::move(log)) {}

void introducer_client::start(timestamp now) {
    if (running_) return;
    running_ = true;
    elect(now);
}

void introducer_client::stop() {
    running_ = false;
    slots_.clear();
    next_election_ = timestamp::max();
}

void introducer_client::elect(timestamp now) {
    if (electing_) return;
    electing_ = true;
    ++elections_;
    dht_.find_node(now, dht_id_for(self_.public_key_bytes()), [this](timestamp t, const dht::lookup_result& r) {
        electing_ = false;
        if (!running_) return;
        candidates_ = r.closest;
        // Our own routing table widens the choice when the lookup ended on few overlay nodes.
        for (const auto& e : dht_.table(settings_.family).closest(dht_.id(), 32)) {
            dht::contact c{e.id, e.ep};
            if (std::none_of(candidates_.begin(), candidates_.end(), [&](const auto& x) { return x.id == c.id; }))
                candidates_.push_back(c);
        }
        std::stable_sort(candidates_.begin(), candidates_.end(), [&](const auto& a, const auto& b) {
            return dht::closer_to(dht_.id(), a.id, b.id);
        });
        fill_slots(t);
    }, dht::address_families::of(settings_.family));
}

std::size_t introducer_client::healthy_slots() const {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const slot& s) { return s.misses == 0; }));
}

std::size_t introducer_client::active_slots() const {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const slot& s) { return s.active; }));
}

void introducer_client::fill_slots(timestamp now) {
    // Until k introducers are active, try twice as many candidates at once: routing
    // tables hold NATed nodes that never answer, and waiting out each one is slow.
    const std::size_t target = active_slots() >= settings_.wanted ? settings_.wanted : 2 * settings_.wanted;
    for (const auto& c : candidates_) {
        if (healthy_slots() >= target) break;
        if (avoid_.contains(c.id) || find(c.id)) continue;
        slots_.push_back(slot{c, {}, false, false, 0, now});
        send_register(now, slots_.size() - 1);
    }
    if (healthy_slots() < settings_.wanted) next_election_ = now + retry_election_after;
}

void introducer_client::send_register(timestamp now, std::size_t index) {
    auto& s = slots_[index];
    bencode::dict args{{"id", dht_.id().to_bytes()},
                       {"k", std::string(self_.public_key_bytes().begin(), self_.public_key_bytes().end())},
                       {"lan", endpoint_list(settings_.lan)},
                       {"nat", nat_label_}};
    if (port_delta_ != 0) args.emplace("pd", port_delta_);
    if (ipv6_) args.emplace("ep6", krpc::compact_endpoint(*ipv6_));
    if (!s.token.empty()) {
        auto sig = self_.sign(introducer_service::registration_message(s.introducer.id, s.token, args));
        args.emplace("tok", s.token);
        args.emplace("sig", std::string(sig.begin(), sig.end()));
    }
    s.in_flight = true;
    s.next_refresh = now + settings_.keepalive;
    auto id = s.introducer.id;
    bool sent = dht_.send_query(
        now, s.introducer.ep, method::register_peer, std::move(args),
        [this, id](timestamp t, const krpc::query_outcome& o) { on_register_outcome(t, id, o); }, id);
    if (!sent) s.in_flight = false;
}

introducer_client::slot* introducer_client::find(const dht::node_id& id) {
    auto it = std::find_if(slots_.begin(), slots_.end(), [&](const slot& s) { return s.introducer.id == id; });
    return it == slots_.end() ? nullptr : &*it;
}

void introducer_client::on_register_outcome(timestamp now, dht::node_id introducer, const krpc::query_outcome& o) {
    auto* s = find(introducer);
    if (!s || !running_) return;
    s->in_flight = false;
    auto index = static_cast<std::size_t>(s - slots_.data());
    if (o.status == krpc::query_status::timeout) {
        // Ask again at once: a dead introducer is then replaced within two query
        // timeouts of its first missed keepalive. A candidate gets the same second
        // chance (on a lossy access link one lost query or reply in ten is normal), while
        // a replacement is already being tried beside it: a NATed node lingering in
        // routing tables costs one more timeout, not a slower election.
        if (++s->misses >= misses_before_drop) {
            drop(now, index, "stopped answering");
        } else {
            send_register(now, index);
            // Start on a replacement now rather than after the second miss.
            fill_slots(now);
        }
        return;
    }
    if (o.status == krpc::query_status::error) {
        // Mainline nodes answer "method unknown"; full or non-serving introducers refuse.
        drop(now, index, o.reply->error_message.c_str());
        return;
    }
    s->misses = 0;
    if (const auto* tok = bencode::find_string(o.reply->body, "tok")) {
        // A (new) token: sign it and register at once.
        s->token = tok->substr(0, 64);
        send_register(now, index);
        return;
    }
    if (!s->active) {
        s->active = true;
        log_->info("introducer elected: {} ({})", s->introducer.ep.to_string(), s->introducer.id.to_hex().substr(0, 12));
    }
    release_extra();
}

void introducer_client::release_extra() {
    // Once k answer, keep the k closest that did and let the others go (their
    // registrations expire on their own).
    if (active_slots() < settings_.wanted) return;
    std::stable_sort(slots_.begin(), slots_.end(), [&](const slot& a, const slot& b) {
        if (a.active != b.active) return a.active;
        if ((a.misses == 0) != (b.misses == 0)) return a.misses == 0;
        return dht::closer_to(dht_.id(), a.introducer.id, b.introducer.id);
    });
    std::size_t keep = 0, healthy_active = 0;
    for (const auto& sl : slots_) {
        if (sl.active && sl.misses == 0 && healthy_active < settings_.wanted) ++healthy_active;
        else if (!(sl.active && sl.misses > 0)) break;
        ++keep;
    }
    for (std::size_t i = keep; i < slots_.size(); ++i) {
        released_.push_back(slots_[i].introducer.ep);
        if (released_.size() > max_released) released_.pop_front();
    }
    slots_.resize(keep);
}

void introducer_client::drop(timestamp now, std::size_t index, const char* why) {
    log_->info("introducer {} dropped: {}", slots_[index].introducer.ep.to_string(), why);
    avoid_.insert(slots_[index].introducer.id);
    slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(index));
    fill_slots(now);
    if (healthy_slots() < settings_.wanted) elect(now);
}

void introducer_client::on_timeout(timestamp now) {
    if (!running_) return;
    for (std::size_t i = 0; i < slots_.size(); ++i)
        if (!slots_[i].in_flight && now >= slots_[i].next_refresh) send_register(now, i);
    if (now >= next_election_) {
        next_election_ = timestamp::max();
        // Refusals and failures age out: an introducer that was full may have room now.
        avoid_.clear();
        if (healthy_slots() < settings_.wanted) elect(now);
    }
}

std::optional<timestamp> introducer_client::next_deadline() const {
    if (!running_) return std::nullopt;
    timestamp next = next_election_;
    for (const auto& s : slots_)
        if (!s.in_flight) next = std::min(next, s.next_refresh);
    if (next == timestamp::max()) return std::nullopt;
    return next;
}

std::vector<endpoint> introducer_client::introducers() const {
    std::vector<endpoint> out;
    for (const auto& s : slots_)
        if (s.active) out.push_back(s.introducer.ep);
    return out;
}

bool introducer_client::is_introducer(const endpoint& ep) const {
    return std::any_of(slots_.begin(), slots_.end(), [&](const slot& s) { return s.introducer.ep == ep; }) ||
           std::find(released_.begin(), released_.end(), ep) != released_.end();
}

} // namespace ovl::overlay
