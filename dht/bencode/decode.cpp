#include "dht/bencode/decode.hpp"

#include <libtorrent/bdecode.hpp>

namespace ovl::bencode {

namespace {

value convert(const lt::bdecode_node& n) {
    switch (n.type()) {
    case lt::bdecode_node::int_t:
        return value(static_cast<std::int64_t>(n.int_value()));
    case lt::bdecode_node::string_t:
        return value(std::string(n.string_value()));
    case lt::bdecode_node::list_t: {
        list l;
        l.reserve(static_cast<std::size_t>(n.list_size()));
        for (int i = 0; i < n.list_size(); ++i) l.push_back(convert(n.list_at(i)));
        return value(std::move(l));
    }
    case lt::bdecode_node::dict_t: {
        dict d;
        for (int i = 0; i < n.dict_size(); ++i) {
            auto [key, item] = n.dict_at(i);
            // Duplicate keys: the first one wins, as in libtorrent's own lookups.
            d.emplace(std::string(key), convert(item));
        }
        return value(std::move(d));
    }
    case lt::bdecode_node::none_t:
        break;
    }
    return value();
}

} // namespace

std::optional<value> decode(std::span<const std::uint8_t> input, std::string* error,
                            const decode_limits& limits) {
    if (input.size() > limits.max_input) {
        if (error) *error = "input too large";
        return std::nullopt;
    }
    lt::error_code ec;
    int error_pos = 0;
    auto node = lt::bdecode({reinterpret_cast<const char*>(input.data()), static_cast<long>(input.size())},
                            ec, &error_pos, limits.max_depth, limits.max_tokens);
    if (ec) {
        if (error) *error = ec.message() + " at byte " + std::to_string(error_pos);
        return std::nullopt;
    }
    // The conversion recurses, but bdecode has already bounded the depth.
    return convert(node);
}

} // namespace ovl::bencode
