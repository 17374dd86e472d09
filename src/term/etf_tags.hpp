// etf_tags.hpp: the tag bytes of the external term format and their names.
//
// The values are the wire format's (erl_ext_dist); the names are the ones OTP's
// documentation uses, so an error message can name the tag a user will look up.
#pragma once

#include <cstdint>
#include <string_view>

namespace beamline::etf::detail {

enum class tag : std::uint8_t {
  new_float = 70,           // NEW_FLOAT_EXT: IEEE 754 double, big-endian
  bit_binary = 77,          // BIT_BINARY_EXT: u32 length, u8 bits in last byte, bytes
  compressed = 80,          // u32 uncompressed size, zlib stream (only after 131)
  atom_cache_ref = 82,      // ATOM_CACHE_REF: u8 index (only after a distribution header)
  new_pid = 88,             // NEW_PID_EXT: node, u32 id, u32 serial, u32 creation
  new_port = 89,            // NEW_PORT_EXT: node, u32 id, u32 creation
  newer_reference = 90,     // NEWER_REFERENCE_EXT: u16 n, node, u32 creation, n x u32
  small_integer = 97,       // SMALL_INTEGER_EXT: u8
  integer = 98,             // INTEGER_EXT: i32
  float_text = 99,          // FLOAT_EXT: 31 bytes of "%.20e" text (deprecated)
  atom_latin1 = 100,        // ATOM_EXT: u16 length, Latin-1 (deprecated)
  reference = 101,          // REFERENCE_EXT: node, u32 id, u8 creation (deprecated)
  port = 102,               // PORT_EXT: node, u32 id, u8 creation (deprecated)
  pid = 103,                // PID_EXT: node, u32 id, u32 serial, u8 creation (deprecated)
  small_tuple = 104,        // SMALL_TUPLE_EXT: u8 arity, elements
  large_tuple = 105,        // LARGE_TUPLE_EXT: u32 arity, elements
  nil = 106,                // NIL_EXT
  string = 107,             // STRING_EXT: u16 length, bytes (a list of bytes)
  list = 108,               // LIST_EXT: u32 length, elements, tail
  binary = 109,             // BINARY_EXT: u32 length, bytes
  small_big = 110,          // SMALL_BIG_EXT: u8 n, u8 sign, n bytes little-endian
  large_big = 111,          // LARGE_BIG_EXT: u32 n, u8 sign, n bytes little-endian
  new_fun = 112,            // NEW_FUN_EXT: u32 size, u8 arity, uniq[16], u32 index, ...
  export_fun = 113,         // EXPORT_EXT: module, function, arity
  new_reference = 114,      // NEW_REFERENCE_EXT: u16 n, node, u8 creation, n x u32 (deprecated)
  small_atom_latin1 = 115,  // SMALL_ATOM_EXT: u8 length, Latin-1 (deprecated)
  map = 116,                // MAP_EXT: u32 arity, key, value, ...
  old_fun = 117,            // FUN_EXT: removed in OTP 23
  atom_utf8 = 118,          // ATOM_UTF8_EXT: u16 length, UTF-8
  small_atom_utf8 = 119,    // SMALL_ATOM_UTF8_EXT: u8 length, UTF-8
  v4_port = 120,            // V4_PORT_EXT: node, u64 id, u32 creation
  local = 121,              // LOCAL_EXT: node-local encoding, never valid from outside
};

// The documented name of a tag byte ("SMALL_TUPLE_EXT"), or "" if it is not a tag.
constexpr std::string_view tag_name(std::uint8_t byte) noexcept {
  switch (static_cast<tag>(byte)) {
    case tag::new_float:
      return "NEW_FLOAT_EXT";
    case tag::bit_binary:
      return "BIT_BINARY_EXT";
    case tag::compressed:
      return "the compressed form";
    case tag::atom_cache_ref:
      return "ATOM_CACHE_REF";
    case tag::new_pid:
      return "NEW_PID_EXT";
    case tag::new_port:
      return "NEW_PORT_EXT";
    case tag::newer_reference:
      return "NEWER_REFERENCE_EXT";
    case tag::small_integer:
      return "SMALL_INTEGER_EXT";
    case tag::integer:
      return "INTEGER_EXT";
    case tag::float_text:
      return "FLOAT_EXT";
    case tag::atom_latin1:
      return "ATOM_EXT";
    case tag::reference:
      return "REFERENCE_EXT";
    case tag::port:
      return "PORT_EXT";
    case tag::pid:
      return "PID_EXT";
    case tag::small_tuple:
      return "SMALL_TUPLE_EXT";
    case tag::large_tuple:
      return "LARGE_TUPLE_EXT";
    case tag::nil:
      return "NIL_EXT";
    case tag::string:
      return "STRING_EXT";
    case tag::list:
      return "LIST_EXT";
    case tag::binary:
      return "BINARY_EXT";
    case tag::small_big:
      return "SMALL_BIG_EXT";
    case tag::large_big:
      return "LARGE_BIG_EXT";
    case tag::new_fun:
      return "NEW_FUN_EXT";
    case tag::export_fun:
      return "EXPORT_EXT";
    case tag::new_reference:
      return "NEW_REFERENCE_EXT";
    case tag::small_atom_latin1:
      return "SMALL_ATOM_EXT";
    case tag::map:
      return "MAP_EXT";
    case tag::old_fun:
      return "FUN_EXT";
    case tag::atom_utf8:
      return "ATOM_UTF8_EXT";
    case tag::small_atom_utf8:
      return "SMALL_ATOM_UTF8_EXT";
    case tag::v4_port:
      return "V4_PORT_EXT";
    case tag::local:
      return "LOCAL_EXT";
  }
  return "";
}

// Limits of the format and of OTP.
inline constexpr std::size_t max_atom_characters = 255;
inline constexpr std::size_t max_reference_words = 5;
inline constexpr std::uint32_t max_string_ext_length = 65535;
inline constexpr std::uint64_t max_new_port_id = 0x0fffffff;      // larger ids: V4_PORT_EXT
inline constexpr std::uint32_t max_old_reference_word = 0x3ffff;  // first word, old forms
inline constexpr std::uint32_t max_old_creation = 3;              // the u8 creation of old forms

}  // namespace beamline::etf::detail
