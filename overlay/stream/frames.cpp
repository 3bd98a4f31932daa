#include "overlay/stream/frames.hpp"

#include "overlay/stream/wire.hpp"

#include <algorithm>
#include <chrono>

namespace ovl::overlay::stream {

namespace {

enum : std::uint8_t { t_ping = 1, t_ack = 2, t_stream = 3, t_stream_fin = 4, t_abort = 5 };

struct encoder {
    byte_writer w;
    void operator()(const ping_frame&) { w.u8(t_ping); }
    void operator()(const ack_frame& a) {
        w.u8(t_ack);
        w.u64(a.ranges.front().high);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(a.ack_delay).count();
        w.u32(static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, 0xFFFFFFFF)));
        w.u64(a.max_data);
        w.u8(static_cast<std::uint8_t>(a.ranges.size()));
        w.u32(static_cast<std::uint32_t>(a.ranges.front().high - a.ranges.front().low + 1));
        for (std::size_t i = 1; i < a.ranges.size(); ++i) {
            w.u32(static_cast<std::uint32_t>(a.ranges[i - 1].low - a.ranges[i].high - 1));
            w.u32(static_cast<std::uint32_t>(a.ranges[i].high - a.ranges[i].low + 1));
        }
    }
    void operator()(const stream_frame& s) {
        w.u8(s.fin ? t_stream_fin : t_stream);
        w.u64(s.offset);
        w.u16(static_cast<std::uint16_t>(s.data.size()));
        w.raw(s.data);
    }
    void operator()(const abort_frame& a) {
        const auto n = std::min<std::size_t>(a.reason.size(), 255);
        w.u8(t_abort);
        w.u8(static_cast<std::uint8_t>(n));
        w.raw({reinterpret_cast<const std::uint8_t*>(a.reason.data()), n});
    }
};

std::optional<ack_frame> decode_ack(byte_reader& r) {
    ack_frame a;
    const auto largest = r.u64();
    a.ack_delay = std::chrono::microseconds(r.u32());
    a.max_data = r.u64();
    const auto n = r.u8();
    const auto first_len = r.u32();
    if (r.failed() || n == 0 || n > max_ack_ranges || first_len == 0 || first_len - 1 > largest) return std::nullopt;
    a.ranges.push_back({largest - (first_len - 1), largest});
    for (int i = 1; i < n; ++i) {
        const std::uint64_t gap = r.u32();
        const std::uint64_t len = r.u32();
        const auto prev_low = a.ranges.back().low;
        // The range must sit wholly below the previous one, with at least one missing number between.
        if (r.failed() || gap == 0 || len == 0 || prev_low < gap + len) return std::nullopt;
        const auto high = prev_low - gap - 1;
        a.ranges.push_back({high - (len - 1), high});
    }
    return a;
}

} // namespace

void encode(bytes& out, const frame& f) { std::visit(encoder{byte_writer(out)}, f); }

std::optional<std::vector<frame>> decode_frames(bytes_view plaintext) {
    std::vector<frame> out;
    byte_reader r(plaintext);
    while (r.remaining() > 0) {
        const auto type = r.u8();
        switch (type) {
        case t_ping: out.emplace_back(ping_frame{}); break;
        case t_ack: {
            auto a = decode_ack(r);
            if (!a) return std::nullopt;
            out.emplace_back(std::move(*a));
            break;
        }
        case t_stream:
        case t_stream_fin: {
            stream_frame s;
            s.offset = r.u64();
            const auto len = r.u16();
            s.data = r.raw(len);
            s.fin = type == t_stream_fin;
            // Offsets stay far from wrapping, so offset + len never overflows anywhere.
            if (r.failed() || s.offset > (std::uint64_t{1} << 62)) return std::nullopt;
            out.emplace_back(s);
            break;
        }
        case t_abort: {
            const auto n = r.u8();
            const auto text = r.raw(n);
            if (r.failed()) return std::nullopt;
            out.emplace_back(abort_frame{std::string(text.begin(), text.end())});
            break;
        }
        default: return std::nullopt;
        }
    }
    return out;
}

} // namespace ovl::overlay::stream
