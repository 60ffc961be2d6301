// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IdentifierPrefixes} from "./IdentifierPrefixes.sol";
import {MemberRegistry} from "./MemberRegistry.sol";

/**
 * @title TraceAnchor
 * @notice Anchors tracechain events on a permissioned chain: Merkle roots of batches of events,
 * single events, and recalls of identifiers, each by an active member of the consortium.
 *
 * A batch root takes one storage word (member number, block number and event count packed
 * beside the root's key), so anchoring a batch of N events costs one transaction, one new
 * storage word and one log whatever N is. Leaves are built like OpenZeppelin's
 * StandardMerkleTree: `keccak256(bytes.concat(keccak256(abi.encode(eventHash, idKey, recorder))))`,
 * pairs hashed sorted, so anyone can check a proof with `verifyEvent` and no code of ours.
 *
 * The registry is inherited rather than called so that authorising a batch is one storage read
 * in this contract (a call to another contract would cost a cold account access and a cold read
 * on top of it).
 */
contract TraceAnchor is MemberRegistry, EIP712 {
    /// @notice EIP-712 type of an event signed by its recording member.
    bytes32 public constant EVENT_TYPEHASH = keccak256("TraceEvent(bytes32 eventHash,bytes32 idKey)");

    /// @dev Bit positions in a packed anchor word: member | block | count.
    uint256 private constant MEMBER_SHIFT = 128;
    uint256 private constant BLOCK_SHIFT = 64;
    uint256 private constant FIELD_MASK = type(uint64).max;

    /// @dev A recall of one identifier (a product, or a lot as a class identifier).
    struct Recall {
        uint64 member;
        uint64 since;
        bool active;
        bytes32 prefixKey;
        bytes32 reasonHash;
    }

    /// @dev Batch root to packed (member, block, count).
    mapping(bytes32 root => uint256) private _batches;
    /// @dev Event hash to packed (member, block, 1) for events anchored one by one.
    mapping(bytes32 eventHash => uint256) private _events;
    /// @dev Identifier key to its recall.
    mapping(bytes32 idKey => Recall) private _recalls;

    /// @notice A zero root or event hash was given.
    error EmptyHash();
    /// @notice A batch must hold at least one event.
    error EmptyBatch();
    /// @notice The root or event hash was anchored before.
    error AlreadyAnchored(bytes32 hash);
    /// @notice The caller's member owns no prefix of the identifier.
    error NotPrefixOwner(address account, bytes32 idKey);
    /// @notice The identifier is recalled already.
    error AlreadyRecalled(bytes32 idKey);
    /// @notice The identifier is not recalled.
    error NotRecalled(bytes32 idKey);

    /// @notice A batch root was anchored.
    event BatchAnchored(bytes32 indexed root, uint64 indexed member, uint64 count);
    /// @notice One event was anchored.
    event EventAnchored(bytes32 indexed idKey, bytes32 indexed eventHash, uint64 indexed member);
    /// @notice An identifier was recalled by the owner of its prefix.
    event Recalled(
        bytes32 indexed idKey,
        uint64 indexed member,
        bytes32 prefixKey,
        bytes32 reasonHash,
        string identifier
    );
    /// @notice A recall was lifted by the owner of the identifier's prefix.
    event RecallLifted(bytes32 indexed idKey, uint64 indexed member, bytes32 reasonHash);

    /**
     * @param admin The first consortium admin.
     */
    constructor(address admin) MemberRegistry(admin) EIP712("tracechain", "1") {}

    // ------------------------------------------------------------------ anchoring

    /**
     * @notice Anchor the Merkle root of a batch of events recorded by the caller's member.
     * @param root The Merkle root (sorted pairs, double-hashed leaves).
     * @param count How many events the batch holds.
     */
    function anchorBatch(bytes32 root, uint64 count) external {
        uint64 member = _authorise(msg.sender, RECORDER);
        if (root == bytes32(0)) revert EmptyHash();
        if (count == 0) revert EmptyBatch();
        if (_batches[root] != 0) revert AlreadyAnchored(root);
        _batches[root] = _pack(member, count);
        emit BatchAnchored(root, member, count);
    }

    /**
     * @notice Anchor one event on its own, with its identifier key as an indexed topic.
     * @param idKey keccak256 of the canonical form of the event's identifier.
     * @param eventHash The event's hash (the digest of its CBV 2.0 event hash ID).
     */
    function anchorEvent(bytes32 idKey, bytes32 eventHash) external {
        uint64 member = _authorise(msg.sender, RECORDER);
        if (eventHash == bytes32(0) || idKey == bytes32(0)) revert EmptyHash();
        if (_events[eventHash] != 0) revert AlreadyAnchored(eventHash);
        _events[eventHash] = _pack(member, 1);
        emit EventAnchored(idKey, eventHash, member);
    }

    // ------------------------------------------------------------------ recalls

    /**
     * @notice Recall an identifier (a product, or a lot given as its class identifier).
     * @dev Only an active RECORDER whose member owns a prefix of the identifier may recall.
     * @param identifier The identifier in canonical form; its key is keccak256 of it.
     * @param reasonHash keccak256 of the recall notice kept off-chain.
     */
    function recall(string calldata identifier, bytes32 reasonHash) external {
        (uint64 member, bytes32 idKey, bytes32 prefixKey) = _authoriseOwner(identifier);
        Recall storage r = _recalls[idKey];
        if (r.active) revert AlreadyRecalled(idKey);
        _recalls[idKey] = Recall({
            member: member,
            since: uint64(block.number),
            active: true,
            prefixKey: prefixKey,
            reasonHash: reasonHash
        });
        emit Recalled(idKey, member, prefixKey, reasonHash, identifier);
    }

    /**
     * @notice Lift the recall of an identifier.
     * @param identifier The identifier in canonical form.
     * @param reasonHash keccak256 of the notice lifting the recall.
     */
    function liftRecall(string calldata identifier, bytes32 reasonHash) external {
        (uint64 member, bytes32 idKey, ) = _authoriseOwner(identifier);
        Recall storage r = _recalls[idKey];
        if (!r.active) revert NotRecalled(idKey);
        r.active = false;
        r.since = uint64(block.number);
        r.reasonHash = reasonHash;
        emit RecallLifted(idKey, member, reasonHash);
    }

    // ------------------------------------------------------------------ views

    /**
     * @notice Who anchored a batch root, when, and how many events it holds.
     * @param root The Merkle root.
     * @return orgId The recording member (zero when the root is not anchored).
     * @return blockNumber The block it was anchored in.
     * @return count The number of events.
     */
    function batchOf(
        bytes32 root
    ) external view returns (bytes32 orgId, uint64 blockNumber, uint64 count) {
        return _unpack(_batches[root]);
    }

    /**
     * @notice Who anchored a single event and when.
     * @param eventHash The event hash.
     * @return orgId The recording member (zero when not anchored on its own).
     * @return blockNumber The block it was anchored in.
     */
    function eventAnchorOf(
        bytes32 eventHash
    ) external view returns (bytes32 orgId, uint64 blockNumber) {
        (orgId, blockNumber, ) = _unpack(_events[eventHash]);
    }

    /**
     * @notice The recall state of an identifier.
     * @param idKey keccak256 of the canonical identifier.
     * @return active Whether it is recalled now.
     * @return orgId The member that recalled it (or lifted the recall).
     * @return since The block of the last change.
     * @return reasonHash The hash of the last notice.
     */
    function recallOf(
        bytes32 idKey
    ) external view returns (bool active, bytes32 orgId, uint64 since, bytes32 reasonHash) {
        Recall storage r = _recalls[idKey];
        return (r.active, _orgIdOf(r.member), r.since, r.reasonHash);
    }

    /**
     * @notice The Merkle leaf of an event.
     * @param eventHash The event hash.
     * @param idKey The key of the event's identifier.
     * @param recorder The address that recorded it.
     * @return The double-hashed leaf.
     */
    function leafHash(
        bytes32 eventHash,
        bytes32 idKey,
        address recorder
    ) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(eventHash, idKey, recorder))));
    }

    /**
     * @notice Whether an event is in an anchored batch.
     * @param root The batch root.
     * @param proof The Merkle proof of the event's leaf.
     * @param eventHash The event hash.
     * @param idKey The key of the event's identifier.
     * @param recorder The address that recorded it.
     * @return True when the root is anchored and the proof leads from the leaf to it.
     */
    function verifyEvent(
        bytes32 root,
        bytes32[] calldata proof,
        bytes32 eventHash,
        bytes32 idKey,
        address recorder
    ) external view returns (bool) {
        if (_batches[root] == 0) return false;
        return MerkleProof.verifyCalldata(proof, root, leafHash(eventHash, idKey, recorder));
    }

    /**
     * @notice The EIP-712 digest a member signs for an event it records itself.
     * @param eventHash The event hash.
     * @param idKey The key of the event's identifier.
     * @return The typed-data digest.
     */
    function eventDigest(bytes32 eventHash, bytes32 idKey) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(EVENT_TYPEHASH, eventHash, idKey)));
    }

    /**
     * @notice Who signed an event, and for which member.
     * @param eventHash The event hash.
     * @param idKey The key of the event's identifier.
     * @param signature The 65-byte EIP-712 signature.
     * @return signer The recovered address.
     * @return orgId The member it signs for (zero when none).
     */
    function eventSigner(
        bytes32 eventHash,
        bytes32 idKey,
        bytes calldata signature
    ) external view returns (address signer, bytes32 orgId) {
        signer = ECDSA.recoverCalldata(eventDigest(eventHash, idKey), signature);
        (orgId, , , ) = signerInfo(signer);
    }

    // ------------------------------------------------------------------ internal

    function _authoriseOwner(
        string calldata identifier
    ) private view returns (uint64 member, bytes32 idKey, bytes32 prefixKey) {
        member = _authorise(msg.sender, RECORDER);
        idKey = keccak256(bytes(identifier));
        bytes32[] memory keys = IdentifierPrefixes.candidates(bytes(identifier));
        for (uint256 i = keys.length; i > 0; --i) {
            if (_ownerOfPrefix(keys[i - 1]) == member) return (member, idKey, keys[i - 1]);
        }
        revert NotPrefixOwner(msg.sender, idKey);
    }

    function _pack(uint64 member, uint64 count) private view returns (uint256) {
        return
            (uint256(member) << MEMBER_SHIFT) |
            (uint256(uint64(block.number)) << BLOCK_SHIFT) |
            uint256(count);
    }

    function _unpack(
        uint256 word
    ) private view returns (bytes32 orgId, uint64 blockNumber, uint64 count) {
        if (word == 0) return (bytes32(0), 0, 0);
        orgId = _orgIdOf(uint64(word >> MEMBER_SHIFT));
        blockNumber = uint64((word >> BLOCK_SHIFT) & FIELD_MASK);
        count = uint64(word & FIELD_MASK);
    }
}
