#include "overlay/stream/secure_stream.hpp"

#include "overlay/stream/wire.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace ovl::overlay {

using namespace stream;

namespace {

constexpr std::uint64_t max_packet_number = std::uint64_t{1} << 62;

std::string seconds_text(duration d) { return fmt::format("{:.1f} s", to_seconds(d)); }

} // namespace

secure_stream::secure_stream(role r, const identity& self, std::optional<public_key> expected_peer,
                             std::uint64_t connection_id, random_source rng, logger_ptr log, timestamp now,
                             stream_config cfg)
    : role_(r), self_(self), rng_(std::move(rng)), log_(std::move(log)), cfg_(cfg), cid_(connection_id),
      started_(now), handshake_resend_at_(now + cfg.initial_rto), handshake_backoff_(cfg.initial_rto),
      channel_(cfg), last_sent_(now), last_received_(now) {
    if (role_ == role::initiator) {
        while (cid_ == 0) cid_ = rng_.next_u64();
        initiator_ = std::make_unique<initiator_handshake>(self_, expected_peer, cid_, rng_);
        handshake_out_.push_back(initiator_->init_packet());
    } else {
        responder_ = std::make_unique<responder_handshake>(self_, cid_, rng_);
    }
}

secure_stream::~secure_stream() = default;

std::optional<std::uint64_t> secure_stream::connection_id(bytes_view datagram) { return read_connection_id(datagram); }

bool secure_stream::is_handshake_init(bytes_view datagram) { return is_init_packet(datagram); }

void secure_stream::on_packet(timestamp now, bytes_view datagram) {
    if (state_ == state::failed || connection_id(datagram) != cid_) return;
    if (datagram[0] == static_cast<std::uint8_t>(packet_type::data)) on_data_packet(now, datagram);
    else on_handshake_packet(now, datagram);
}

void secure_stream::on_handshake_packet(timestamp now, bytes_view datagram) {
    const auto type = static_cast<packet_type>(datagram[0]);
    if (type == packet_type::init && responder_) {
        if (auto response = responder_->on_init(datagram)) handshake_out_.push_back(std::move(*response));
    } else if (type == packet_type::response && initiator_) {
        auto result = initiator_->on_response(datagram);
        if (auto* done = std::get_if<initiator_handshake::completed>(&result)) {
            finish_packet_ = std::move(done->finish_packet);
            handshake_out_.push_back(finish_packet_);
            initiator_.reset();
            established(now, std::move(done->done));
        } else if (auto* failed = std::get_if<handshake_failed>(&result)) {
            fail(failed->reason);
        }
    } else if (type == packet_type::response && state_ == state::open && role_ == role::initiator &&
               !finish_confirmed_) {
        // The responder repeats its RESPONSE: our FINISH was lost.
        handshake_out_.push_back(finish_packet_);
    } else if (type == packet_type::finish && responder_) {
        if (auto done = responder_->on_finish(datagram)) {
            finish_packet_.assign(datagram.begin(), datagram.end());
            responder_.reset();
            established(now, std::move(*done));
            // Proof for the initiator that we hold the keys, even if it has nothing to ack.
            channel_.queue_ping();
        }
    } else if (type == packet_type::finish && role_ == role::responder &&
               std::equal(datagram.begin(), datagram.end(), finish_packet_.begin(), finish_packet_.end())) {
        channel_.queue_ping();
    }
}

void secure_stream::established(timestamp now, handshake_done done) {
    sealer_ = std::make_unique<packet_sealer>(done.keys.send, cid_);
    opener_ = std::make_unique<packet_opener>(done.keys.receive, cid_);
    sodium_memzero(done.keys.send.data(), done.keys.send.size());
    sodium_memzero(done.keys.receive.data(), done.keys.receive.size());
    peer_ = done.peer;
    state_ = state::open;
    last_received_ = now;
    handshake_backoff_ = cfg_.initial_rto;
    handshake_resend_at_ = now + handshake_backoff_;
    log_->info("stream {:016x}: open with peer {} after {}", cid_, to_hex(done.peer), seconds_text(now - started_));
}

void secure_stream::on_data_packet(timestamp now, bytes_view datagram) {
    if (!opener_) return;
    auto packet = opener_->open(datagram);
    if (!packet || packet->packet_number >= max_packet_number) return;
    auto frames = decode_frames(packet->plaintext);
    if (!frames) {
        log_->debug("stream {:016x}: dropped an authenticated packet with malformed frames", cid_);
        return;
    }
    last_received_ = now;
    finish_confirmed_ = true;
    if (!channel_.on_packet(now, packet->packet_number, *frames)) {
        abort("stream protocol violation");
        return;
    }
    if (const auto& reason = channel_.peer_abort()) {
        fail("peer aborted: " + *reason);
        return;
    }
    update_closed();
}

std::optional<bytes> secure_stream::poll_packet(timestamp now) {
    if (!handshake_out_.empty()) {
        auto out = std::move(handshake_out_.front());
        handshake_out_.pop_front();
        last_sent_ = now;
        return out;
    }
    if (!sealer_ || (state_ == state::failed && !abort_unsent_)) return std::nullopt;
    abort_unsent_ = false;
    auto out = channel_.poll(now);
    if (!out) return std::nullopt;
    last_sent_ = now;
    return sealer_->seal(out->packet_number, out->plaintext);
}

std::optional<timestamp> secure_stream::next_deadline() const {
    switch (state_) {
    case state::failed: return std::nullopt;
    case state::handshaking: {
        const auto give_up = started_ + cfg_.handshake_timeout;
        return initiator_ ? std::min(give_up, handshake_resend_at_) : give_up;
    }
    case state::closed: return channel_.next_deadline();
    case state::open: break;
    }
    auto d = std::min(last_received_ + cfg_.idle_timeout, last_sent_ + cfg_.keepalive_interval);
    if (role_ == role::initiator && !finish_confirmed_) d = std::min(d, handshake_resend_at_);
    if (auto c = channel_.next_deadline()) d = std::min(d, *c);
    return d;
}

void secure_stream::on_timeout(timestamp now) {
    if (state_ == state::handshaking) {
        if (now >= started_ + cfg_.handshake_timeout) {
            fail("handshake timed out after " + seconds_text(cfg_.handshake_timeout) +
                 " (peer unreachable or not answering)");
        } else if (initiator_ && now >= handshake_resend_at_) {
            handshake_out_.push_back(initiator_->init_packet());
            handshake_backoff_ *= 2;
            handshake_resend_at_ = now + handshake_backoff_;
        }
        return;
    }
    if (state_ == state::open) {
        if (now >= last_received_ + cfg_.idle_timeout) {
            fail("path silent: nothing received for " + seconds_text(now - last_received_));
            return;
        }
        if (role_ == role::initiator && !finish_confirmed_ && now >= handshake_resend_at_) {
            handshake_out_.push_back(finish_packet_);
            handshake_backoff_ *= 2;
            handshake_resend_at_ = now + handshake_backoff_;
        }
        if (now >= last_sent_ + cfg_.keepalive_interval) channel_.queue_ping();
    }
    if (state_ != state::failed) channel_.on_timeout(now);
}

std::size_t secure_stream::write(bytes_view data) {
    if (state_ == state::failed || state_ == state::closed) return 0;
    return channel_.write(data);
}

bytes secure_stream::read() {
    auto out = channel_.read();
    update_closed();
    return out;
}

void secure_stream::close() {
    channel_.finish();
    update_closed();
}

void secure_stream::abort(const std::string& reason) {
    if (state_ == state::failed) return;
    if (sealer_) {
        channel_.queue_abort(reason);
        abort_unsent_ = true;
    }
    fail("aborted: " + reason);
}

void secure_stream::fail(std::string reason) {
    state_ = state::failed;
    failure_ = std::move(reason);
    handshake_out_.clear();
    log_->info("stream {:016x}: failed: {}", cid_, failure_);
}

void secure_stream::update_closed() {
    if (state_ == state::open && channel_.closed()) {
        state_ = state::closed;
        log_->info("stream {:016x}: closed", cid_);
    }
}

} // namespace ovl::overlay
