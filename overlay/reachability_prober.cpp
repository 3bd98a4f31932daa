#include "overlay/reachability_prober.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/methods.hpp"

namespace ovl::overlay {

namespace {
// Probes from this many distinct probers make a round "reachable"; a round in which
// helpers dispatched at least this many probes and none arrived is "unreachable".
constexpr int probes_for_verdict = 2;
} // namespace

reachability_prober::reachability_prober(dht::node& dht, std::size_t helpers, duration wait, duration interval,
                                         logger_ptr log, ip_family family)
    : dht_(dht), family_(family), helpers_(helpers), wait_(wait), interval_(interval), log_(std::move(log)) {}

void reachability_prober::start_round(timestamp now, const std::vector<endpoint>& helpers,
                                      const std::vector<ip_address>& contacted) {
    if (running_) return;
    running_ = true;
    round_ends_ = now + wait_;
    nonces_.clear();
    probers_.clear();
    stranger_probers_.clear();
    dispatched_ = 0;
    accepted_ = 0;
    std::string excluded;
    for (const auto& ip : contacted)
        if (ip.is_v4() && excluded.size() < 64) excluded += krpc::compact_endpoint({ip, 0}).substr(0, 4);

    std::vector<std::pair<endpoint, std::optional<dht::node_id>>> asked;
    std::set<ip_address> used;
    for (const auto& h : helpers)
        if (asked.size() < helpers_ && used.insert(h.address).second) asked.emplace_back(h, std::nullopt);
    if (helpers.empty())
        for (const auto& c : dht_.table(family_).closest(dht::node_id::random(dht_.rng()), 64))
            if (asked.size() < helpers_ && used.insert(c.ep.address).second) asked.emplace_back(c.ep, c.id);

    for (const auto& [ep, id] : asked) {
        std::string nonce(8, '\0');
        dht_.rng().fill({reinterpret_cast<std::uint8_t*>(nonce.data()), nonce.size()});
        nonces_.insert(nonce);
        bencode::dict args{{"id", dht_.id().to_bytes()}, {"n", nonce}};
        if (!excluded.empty()) args.emplace("x", excluded);
        dht_.send_query(
            now, ep, method::dial_back, std::move(args),
            [this](timestamp, const krpc::query_outcome& o) {
                if (o.status != krpc::query_status::response || !running_) return;
                ++accepted_;
                if (const auto* np = bencode::find_int(o.reply->body, "np")) dispatched_ += static_cast<int>(std::clamp<std::int64_t>(*np, 0, 4));
            },
            id);
    }
}

void reachability_prober::on_probe(timestamp, const endpoint& from, std::string_view nonce, bool known_ip) {
    if (!running_ || !nonces_.contains(std::string(nonce))) return;
    probers_.insert(from.address);
    if (!known_ip) stranger_probers_.insert(from.address);
}

void reachability_prober::finish_round(timestamp now) {
    running_ = false;
    ++rounds_;
    last_requests_ = accepted_;
    last_probes_ = static_cast<int>(probers_.size());
    reachability round = reachability::unknown;
    // Probes from IPs we had written to pass a restricted cone too: they may confirm
    // reachability, but only probes from strangers may overturn "unreachable".
    const bool stranger_evidence = static_cast<int>(stranger_probers_.size()) >= 1;
    if (last_probes_ >= probes_for_verdict && (verdict_ != reachability::unreachable || stranger_evidence))
        round = reachability::reachable;
    else if (dispatched_ >= probes_for_verdict && last_probes_ == 0)
        round = reachability::unreachable;
    // The first conclusive round sets the verdict; later changes need two rounds in a row.
    const bool first = verdict_ == reachability::unknown && round != reachability::unknown;
    const bool confirmed = round != reachability::unknown && round == pending_;
    if (round != verdict_ && (first || confirmed)) {
        log_->info("{}reachability: {} ({} probes arrived, {} dispatched by {} helpers)",
                   family_ == ip_family::v6 ? "IPv6 " : "", to_string(round), last_probes_,
                   dispatched_, accepted_);
        verdict_ = round;
        since_ = now;
    }
    if (round == reachability::reachable && (first || confirmed || round == verdict_) && !stranger_probers_.empty())
        open_to_strangers_ = true;
    if (round == reachability::unreachable && round == verdict_) open_to_strangers_ = false;
    pending_ = round;
    // Until the verdict is settled, try again soon; afterwards, now and then.
    next_round_ = now + ((round == verdict_ && verdict_ != reachability::unknown) ? interval_ : wait_);
    if (round_end_) round_end_(now);
}

void reachability_prober::on_timeout(timestamp now) {
    if (running_ && now >= round_ends_) finish_round(now);
    if (!running_ && now >= next_round_) start_round(now, {}, {});
}

std::optional<timestamp> reachability_prober::next_deadline() const {
    if (running_) return round_ends_;
    if (next_round_ == timestamp::max()) return std::nullopt;
    return next_round_;
}

} // namespace ovl::overlay
