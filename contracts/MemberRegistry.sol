// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title MemberRegistry
 * @notice Membership of a tracechain consortium: organisations (members), their signing
 * addresses and the identifier prefixes they own.
 *
 * A consortium admin (an account holding `DEFAULT_ADMIN_ROLE` of OpenZeppelin AccessControl)
 * admits and suspends members, sets their roles (RECORDER, AUDITOR), admits and revokes their
 * signing addresses (a member may hold several, for key rotation) and assigns identifier
 * prefixes to them. Prefixes are keyed by `keccak256` of their normalised form, such as
 * `gs1:0614141` (a GS1 company prefix) or `handle:88.118.8` (a Handle prefix).
 *
 * The authorisation of a signing address lives in one storage word (member number, member roles,
 * member active, signer revoked) so that a batch anchor needs a single storage read to check
 * membership and role; suspending a member rewrites the words of its few signers.
 */
abstract contract MemberRegistry is AccessControl {
    /// @notice Role flag: may anchor events and batches, recall identifiers under its prefixes.
    uint8 public constant RECORDER = 1 << 0;
    /// @notice Role flag: may read and attest audits (an off-chain privilege recorded on-chain).
    uint8 public constant AUDITOR = 1 << 1;
    /// @dev Every role flag defined above.
    uint8 private constant ALL_ROLES = RECORDER | AUDITOR;
    /// @notice The most signing addresses a member may hold at once (bounds suspension loops).
    uint256 public constant MAX_SIGNERS_PER_MEMBER = 16;

    /// @dev A member organisation.
    struct Member {
        bytes32 orgId;
        uint8 roles;
        bool active;
        uint64 admittedAt;
    }

    /// @dev One storage word: everything `anchorBatch` needs to authorise a sender.
    struct Signer {
        uint64 member;
        uint8 roles;
        bool memberActive;
        bool revoked;
        uint64 since;
    }

    /// @dev Members by number; number 0 means "none".
    Member[] private _members;
    /// @dev Organisation id to member number.
    mapping(bytes32 orgId => uint64) private _memberNumber;
    /// @dev Signing address to its authorisation word.
    mapping(address account => Signer) private _signers;
    /// @dev Current (not revoked) signing addresses of each member.
    mapping(uint64 member => address[]) private _activeSigners;
    /// @dev Prefix key to the member that owns it.
    mapping(bytes32 prefixKey => uint64) private _prefixOwner;

    /// @notice The organisation id is already a member.
    error MemberExists(bytes32 orgId);
    /// @notice No member has this organisation id.
    error UnknownOrganisation(bytes32 orgId);
    /// @notice The address is not a signing address of any member.
    error UnknownMember(address account);
    /// @notice The member is suspended.
    error SuspendedMember(bytes32 orgId);
    /// @notice The signing address was revoked.
    error RevokedSigner(address account);
    /// @notice The member is active already.
    error ActiveMember(bytes32 orgId);
    /// @notice The address lacks a member role this call needs.
    error MissingMemberRole(address account, uint8 role);
    /// @notice The address is or was a signing address already (addresses are never reused).
    error SignerExists(address account);
    /// @notice The member already holds `MAX_SIGNERS_PER_MEMBER` signing addresses.
    error TooManySigners(bytes32 orgId);
    /// @notice The roles value has bits no role defines, or none.
    error InvalidRoles(uint8 roles);
    /// @notice The organisation id, address or prefix is empty.
    error EmptyValue();
    /// @notice The prefix belongs to another member.
    error PrefixTaken(bytes32 prefixKey, bytes32 ownerOrgId);
    /// @notice The prefix is not assigned to anybody.
    error UnknownPrefix(bytes32 prefixKey);

    /// @notice A member was admitted with its first signing address.
    event MemberAdmitted(bytes32 indexed orgId, uint64 indexed member, uint8 roles, address signer);
    /// @notice A member was suspended: none of its addresses may record until reinstated.
    event MemberSuspended(bytes32 indexed orgId, uint64 indexed member);
    /// @notice A suspended member was reinstated.
    event MemberReinstated(bytes32 indexed orgId, uint64 indexed member);
    /// @notice A member's roles changed.
    event MemberRolesChanged(bytes32 indexed orgId, uint64 indexed member, uint8 roles);
    /// @notice A signing address was admitted for a member.
    event SignerAdded(bytes32 indexed orgId, uint64 indexed member, address indexed signer);
    /// @notice A signing address was revoked; what it anchored before stays valid.
    event SignerRevoked(bytes32 indexed orgId, uint64 indexed member, address indexed signer);
    /// @notice A prefix was assigned to a member.
    event PrefixAssigned(bytes32 indexed prefixKey, bytes32 indexed orgId, string prefix);
    /// @notice A prefix was taken back from its member.
    event PrefixRevoked(bytes32 indexed prefixKey, bytes32 indexed orgId);

    /**
     * @param admin The first consortium admin.
     */
    constructor(address admin) {
        if (admin == address(0)) revert EmptyValue();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        // Member number 0 is the "no member" sentinel.
        _members.push(Member({orgId: bytes32(0), roles: 0, active: false, admittedAt: 0}));
    }

    // ------------------------------------------------------------------ admin

    /**
     * @notice Admit an organisation as a member with its first signing address.
     * @param orgId The organisation id (for example keccak256 of its name or GLN).
     * @param roles Role flags (`RECORDER`, `AUDITOR`, or both).
     * @param signer The member's first signing address.
     * @return member The new member's number.
     */
    function admitMember(
        bytes32 orgId,
        uint8 roles,
        address signer
    ) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint64 member) {
        if (orgId == bytes32(0)) revert EmptyValue();
        if (_memberNumber[orgId] != 0) revert MemberExists(orgId);
        _checkRoles(roles);
        member = uint64(_members.length);
        _members.push(
            Member({orgId: orgId, roles: roles, active: true, admittedAt: uint64(block.number)})
        );
        _memberNumber[orgId] = member;
        emit MemberAdmitted(orgId, member, roles, signer);
        _addSigner(orgId, member, signer);
    }

    /**
     * @notice Suspend a member: its addresses can no longer anchor or recall.
     * @param orgId The member's organisation id.
     */
    function suspendMember(bytes32 orgId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint64 member = _requireMember(orgId);
        Member storage m = _members[member];
        if (!m.active) revert SuspendedMember(orgId);
        m.active = false;
        _syncSigners(member, m.roles, false);
        emit MemberSuspended(orgId, member);
    }

    /**
     * @notice Reinstate a suspended member.
     * @param orgId The member's organisation id.
     */
    function reinstateMember(bytes32 orgId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint64 member = _requireMember(orgId);
        Member storage m = _members[member];
        if (m.active) revert ActiveMember(orgId);
        m.active = true;
        _syncSigners(member, m.roles, true);
        emit MemberReinstated(orgId, member);
    }

    /**
     * @notice Replace a member's role flags.
     * @param orgId The member's organisation id.
     * @param roles The new role flags.
     */
    function setMemberRoles(bytes32 orgId, uint8 roles) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint64 member = _requireMember(orgId);
        _checkRoles(roles);
        Member storage m = _members[member];
        m.roles = roles;
        _syncSigners(member, roles, m.active);
        emit MemberRolesChanged(orgId, member, roles);
    }

    /**
     * @notice Admit another signing address for a member (key rotation).
     * @param orgId The member's organisation id.
     * @param signer The new signing address; never used before.
     */
    function addSigner(bytes32 orgId, address signer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _addSigner(orgId, _requireMember(orgId), signer);
    }

    /**
     * @notice Revoke a signing address. Anchors it made before stay valid.
     * @param signer The address to revoke.
     */
    function revokeSigner(address signer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Signer storage s = _signers[signer];
        uint64 member = s.member;
        if (member == 0) revert UnknownMember(signer);
        if (s.revoked) revert RevokedSigner(signer);
        s.revoked = true;
        address[] storage list = _activeSigners[member];
        uint256 last = list.length - 1;
        for (uint256 i = 0; i <= last; ++i) {
            if (list[i] == signer) {
                list[i] = list[last];
                list.pop();
                break;
            }
        }
        emit SignerRevoked(_members[member].orgId, member, signer);
    }

    /**
     * @notice Assign an identifier prefix to a member.
     * @param prefix The normalised prefix, such as `gs1:0614141` or `handle:88.118.8`.
     * @param orgId The member that will own it.
     */
    function assignPrefix(
        string calldata prefix,
        bytes32 orgId
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (bytes(prefix).length == 0) revert EmptyValue();
        uint64 member = _requireMember(orgId);
        bytes32 key = keccak256(bytes(prefix));
        uint64 owner = _prefixOwner[key];
        if (owner != 0 && owner != member) revert PrefixTaken(key, _members[owner].orgId);
        _prefixOwner[key] = member;
        emit PrefixAssigned(key, orgId, prefix);
    }

    /**
     * @notice Take a prefix back from its member.
     * @param prefixKey keccak256 of the normalised prefix.
     */
    function revokePrefix(bytes32 prefixKey) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint64 owner = _prefixOwner[prefixKey];
        if (owner == 0) revert UnknownPrefix(prefixKey);
        delete _prefixOwner[prefixKey];
        emit PrefixRevoked(prefixKey, _members[owner].orgId);
    }

    // ------------------------------------------------------------------ views

    /**
     * @notice A member's state.
     * @param orgId The organisation id.
     * @return member Its number (0 when unknown).
     * @return roles Its role flags.
     * @return active Whether it is active (not suspended).
     * @return admittedAt The block it was admitted at.
     */
    function memberInfo(
        bytes32 orgId
    ) external view returns (uint64 member, uint8 roles, bool active, uint64 admittedAt) {
        member = _memberNumber[orgId];
        Member storage m = _members[member];
        return (member, m.roles, m.active, m.admittedAt);
    }

    /**
     * @notice The organisation id of a member number.
     * @param member The member number.
     * @return The organisation id (zero when unknown).
     */
    function orgIdOf(uint64 member) external view returns (bytes32) {
        return member < _members.length ? _members[member].orgId : bytes32(0);
    }

    /**
     * @notice What a signing address is allowed to do now.
     * @param account The address.
     * @return orgId The member it signs for (zero when none).
     * @return roles The member's role flags.
     * @return active Whether the address may act now (member active, address not revoked).
     * @return since The block the address was admitted at.
     */
    function signerInfo(
        address account
    ) public view returns (bytes32 orgId, uint8 roles, bool active, uint64 since) {
        Signer storage s = _signers[account];
        return (_members[s.member].orgId, s.roles, s.memberActive && !s.revoked, s.since);
    }

    /**
     * @notice The current signing addresses of a member.
     * @param orgId The organisation id.
     * @return The addresses not revoked.
     */
    function signersOf(bytes32 orgId) external view returns (address[] memory) {
        return _activeSigners[_memberNumber[orgId]];
    }

    /**
     * @notice The member that owns a prefix.
     * @param prefixKey keccak256 of the normalised prefix.
     * @return The owner's organisation id (zero when unassigned).
     */
    function prefixOwner(bytes32 prefixKey) external view returns (bytes32) {
        return _members[_prefixOwner[prefixKey]].orgId;
    }

    /// @notice How many members were ever admitted.
    /// @return The count.
    function memberCount() external view returns (uint256) {
        return _members.length - 1;
    }

    // ------------------------------------------------------------------ internal

    /// @dev The member number of `account` if it may act now with `role`; reverts otherwise.
    function _authorise(address account, uint8 role) internal view returns (uint64 member) {
        Signer storage s = _signers[account];
        member = s.member;
        if (member == 0) revert UnknownMember(account);
        if (s.revoked) revert RevokedSigner(account);
        if (!s.memberActive) revert SuspendedMember(_members[member].orgId);
        if (s.roles & role == 0) revert MissingMemberRole(account, role);
    }

    /// @dev The member number owning `prefixKey` (0 when none).
    function _ownerOfPrefix(bytes32 prefixKey) internal view returns (uint64) {
        return _prefixOwner[prefixKey];
    }

    /// @dev The organisation id of a member number.
    function _orgIdOf(uint64 member) internal view returns (bytes32) {
        return _members[member].orgId;
    }

    function _requireMember(bytes32 orgId) private view returns (uint64 member) {
        member = _memberNumber[orgId];
        if (member == 0) revert UnknownOrganisation(orgId);
    }

    function _checkRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~ALL_ROLES != 0) revert InvalidRoles(roles);
    }

    function _addSigner(bytes32 orgId, uint64 member, address signer) private {
        if (signer == address(0)) revert EmptyValue();
        if (_signers[signer].member != 0) revert SignerExists(signer);
        address[] storage list = _activeSigners[member];
        if (list.length >= MAX_SIGNERS_PER_MEMBER) revert TooManySigners(orgId);
        Member storage m = _members[member];
        _signers[signer] = Signer({
            member: member,
            roles: m.roles,
            memberActive: m.active,
            revoked: false,
            since: uint64(block.number)
        });
        list.push(signer);
        emit SignerAdded(orgId, member, signer);
    }

    function _syncSigners(uint64 member, uint8 roles, bool active) private {
        address[] storage list = _activeSigners[member];
        uint256 n = list.length;
        for (uint256 i = 0; i < n; ++i) {
            Signer storage s = _signers[list[i]];
            s.roles = roles;
            s.memberActive = active;
        }
    }
}
