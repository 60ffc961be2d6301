// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IdentifierPrefixes
 * @notice Finds, on-chain, the prefixes that may own an industrial identifier given in the
 * canonical form of tracechain's identifiers package, so that the chain itself can check that
 * only a prefix's owner recalls identifiers under it.
 *
 * Canonical forms and their candidate prefix keys (keccak256 of the normalised prefix):
 * - GS1 keys as canonical Digital Link URIs, `https://id.gs1.org/{AI}/{key}[/...]`: the GS1
 *   company prefix starts after the key's leading indicator / extension digit (AI 01, 00, 8003,
 *   8006) or at its first digit (the other primary keys) and is 4 to 12 digits long; every length
 *   is a candidate `gs1:{digits}`.
 * - OIDs, `urn:oid:{arc}.{arc}...`: every leading run of arcs is a candidate `oid:{arcs}`.
 * - Handles, `{prefix}/{suffix}` with a lower-cased prefix: the prefix and each of its
 *   dot-separated ancestors is a candidate `handle:{prefix}`.
 */
library IdentifierPrefixes {
    /// @notice The identifier is not in a canonical form this library knows.
    error MalformedIdentifier();
    /// @notice The GS1 application identifier is not a primary key with a company prefix.
    error UnsupportedGs1Key(bytes ai);

    /// @dev Shortest and longest GS1 company prefix.
    uint256 private constant MIN_GS1_PREFIX = 4;
    uint256 private constant MAX_GS1_PREFIX = 12;
    /// @dev Most candidates a hierarchical (handle, OID) identifier may yield.
    uint256 private constant MAX_LEVELS = 16;

    bytes private constant GS1_BASE = "https://id.gs1.org/";
    bytes private constant OID_BASE = "urn:oid:";
    bytes private constant GS1_TAG = "gs1:";
    bytes private constant OID_TAG = "oid:";
    bytes private constant HANDLE_TAG = "handle:";

    bytes1 private constant SLASH = "/";
    bytes1 private constant DOT = ".";
    bytes1 private constant ZERO = "0";
    bytes1 private constant NINE = "9";

    /**
     * @notice The candidate prefix keys of a canonical identifier, most specific last.
     * @param id The canonical identifier.
     * @return keys The candidate keys (keccak256 of each normalised prefix).
     */
    function candidates(bytes calldata id) internal pure returns (bytes32[] memory keys) {
        if (_startsWith(id, GS1_BASE)) return _gs1(id);
        if (_startsWith(id, OID_BASE)) {
            return _levels(OID_TAG, id[OID_BASE.length:], id.length - OID_BASE.length);
        }
        uint256 slash = _indexOf(id, SLASH, 0);
        if (slash == 0 || slash >= id.length - 1) revert MalformedIdentifier();
        return _levels(HANDLE_TAG, id, slash);
    }

    function _gs1(bytes calldata id) private pure returns (bytes32[] memory keys) {
        uint256 aiStart = GS1_BASE.length;
        uint256 aiEnd = _indexOf(id, SLASH, aiStart);
        if (aiEnd == aiStart || aiEnd >= id.length) revert MalformedIdentifier();
        uint256 start = aiEnd + 1 + _leadingDigits(id[aiStart:aiEnd]);
        uint256 end = start;
        while (end < id.length && end - start < MAX_GS1_PREFIX && _isDigit(id[end])) ++end;
        if (end - start < MIN_GS1_PREFIX) revert MalformedIdentifier();
        keys = new bytes32[](end - start - MIN_GS1_PREFIX + 1);
        for (uint256 len = MIN_GS1_PREFIX; start + len <= end; ++len) {
            keys[len - MIN_GS1_PREFIX] = keccak256(bytes.concat(GS1_TAG, id[start:start + len]));
        }
    }

    /// @dev Digits that stand before the company prefix in the key of application identifier `ai`.
    function _leadingDigits(bytes calldata ai) private pure returns (uint256) {
        bytes32 h = keccak256(ai);
        // GTIN (indicator digit), SSCC (extension digit), GRAI (padding zero), ITIP (indicator).
        if (h == keccak256("01") || h == keccak256("00") || h == keccak256("8003")) return 1;
        if (h == keccak256("8006")) return 1;
        // GLN, party GLN, GIAI, CPID, GSRN-P, GSRN, GDTI, GCN, GINC, GSIN, GMN.
        if (
            h == keccak256("414") || h == keccak256("417") || h == keccak256("8004") ||
            h == keccak256("8010") || h == keccak256("8017") || h == keccak256("8018") ||
            h == keccak256("253") || h == keccak256("255") || h == keccak256("401") ||
            h == keccak256("402") || h == keccak256("8013")
        ) return 0;
        revert UnsupportedGs1Key(ai);
    }

    /// @dev `tag` + each dot-delimited leading part of `id[:end]`, and the whole of it.
    function _levels(
        bytes memory tag,
        bytes calldata id,
        uint256 end
    ) private pure returns (bytes32[] memory keys) {
        if (end == 0) revert MalformedIdentifier();
        bytes32[] memory found = new bytes32[](MAX_LEVELS);
        uint256 n = 0;
        for (uint256 i = 0; i <= end; ++i) {
            if (i == end || id[i] == DOT) {
                if (i == 0 || n == MAX_LEVELS) revert MalformedIdentifier();
                found[n++] = keccak256(bytes.concat(tag, id[:i]));
            }
        }
        keys = new bytes32[](n);
        for (uint256 k = 0; k < n; ++k) keys[k] = found[k];
    }

    function _startsWith(bytes calldata s, bytes memory head) private pure returns (bool) {
        return s.length > head.length && keccak256(s[:head.length]) == keccak256(head);
    }

    function _indexOf(bytes calldata s, bytes1 c, uint256 from) private pure returns (uint256) {
        for (uint256 i = from; i < s.length; ++i) if (s[i] == c) return i;
        return s.length;
    }

    function _isDigit(bytes1 c) private pure returns (bool) {
        return c >= ZERO && c <= NINE;
    }
}
