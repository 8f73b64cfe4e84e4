//! The fake tenant's state: users and groups as Graph JSON properties, with the version at which
//! each object, each property and each membership last changed, and tombstones for what was
//! deleted. Every change takes the next version; a delta token is the version its round saw.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

pub type Version = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn odata_type(self) -> &'static str {
        match self {
            MemberKind::User => "#microsoft.graph.user",
            MemberKind::Group => "#microsoft.graph.group",
        }
    }
}

/// A user or a group.
#[derive(Debug, Clone, Default)]
pub struct Object {
    pub properties: Map<String, Value>,
    /// Property → the version that last set it.
    pub changed: HashMap<String, Version>,
    pub created: Version,
    /// The last change of the object, its properties or (groups) its members.
    pub version: Version,
    /// Users: the manager's id, and the one before it (for `manager@delta`'s `@removed`).
    pub manager: Option<String>,
    pub previous_manager: Option<String>,
    pub manager_changed: Version,
    /// Groups: member id → (kind, version added).
    pub members: BTreeMap<String, (MemberKind, Version)>,
    /// Groups: members removed → (kind, version removed).
    pub removed_members: HashMap<String, (MemberKind, Version)>,
}

#[derive(Debug, Default)]
pub struct Directory {
    pub version: Version,
    pub users: BTreeMap<String, Object>,
    pub groups: BTreeMap<String, Object>,
    /// Deleted id → version of the deletion.
    pub deleted_users: BTreeMap<String, Version>,
    pub deleted_groups: BTreeMap<String, Version>,
    /// Delta tokens older than this are gone (410).
    pub tokens_valid_from: Version,
    next_id: u64,
}

/// A GUID-shaped id, ordered by creation.
pub fn guid(n: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", n >> 48, n & 0xffff_ffff_ffff)
}

impl Directory {
    fn tick(&mut self) -> Version {
        self.version += 1;
        self.version
    }

    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        guid(self.next_id)
    }

    /// Creates a user from Graph properties (`manager` is an id); returns its id.
    pub fn create_user(&mut self, mut properties: Map<String, Value>) -> String {
        let id = self.new_id();
        let version = self.tick();
        let manager = properties.remove("manager").and_then(|m| m.as_str().map(str::to_owned));
        let changed = properties.keys().map(|key| (key.clone(), version)).collect();
        let user = Object {
            properties,
            changed,
            created: version,
            version,
            manager,
            manager_changed: version,
            ..Object::default()
        };
        self.users.insert(id.clone(), user);
        id
    }

    /// Sets properties of a user (null clears one; `manager` takes an id or null). False if unknown.
    pub fn update_user(&mut self, id: &str, properties: Map<String, Value>) -> bool {
        if !self.users.contains_key(id) {
            return false;
        }
        let version = self.tick();
        let user = self.users.get_mut(id).expect("checked above");
        for (key, value) in properties {
            if key == "manager" {
                user.previous_manager = user.manager.take();
                user.manager = value.as_str().map(str::to_owned);
                user.manager_changed = version;
            } else {
                user.changed.insert(key.clone(), version);
                user.properties.insert(key, value);
            }
        }
        user.version = version;
        true
    }

    /// Deletes a user, and its memberships (the groups change with it, as in Graph).
    pub fn delete_user(&mut self, id: &str) -> bool {
        if self.users.remove(id).is_none() {
            return false;
        }
        let version = self.tick();
        self.deleted_users.insert(id.to_owned(), version);
        self.drop_member(id, version);
        true
    }

    pub fn create_group(&mut self, properties: Map<String, Value>, members: &[String]) -> String {
        let id = self.new_id();
        let version = self.tick();
        let changed = properties.keys().map(|key| (key.clone(), version)).collect();
        let mut group = Object { properties, changed, created: version, version, ..Object::default() };
        for member in members {
            if let Some(kind) = self.kind_of(member) {
                group.members.insert(member.clone(), (kind, version));
            }
        }
        self.groups.insert(id.clone(), group);
        id
    }

    pub fn update_group(&mut self, id: &str, properties: Map<String, Value>) -> bool {
        if !self.groups.contains_key(id) {
            return false;
        }
        let version = self.tick();
        let group = self.groups.get_mut(id).expect("checked above");
        for (key, value) in properties {
            group.changed.insert(key.clone(), version);
            group.properties.insert(key, value);
        }
        group.version = version;
        true
    }

    /// Adds and removes members of a group; false if the group or a member is unknown.
    pub fn change_members(&mut self, id: &str, add: &[String], remove: &[String]) -> bool {
        let kinds: Option<Vec<MemberKind>> = add.iter().map(|member| self.kind_of(member)).collect();
        let (Some(kinds), true) = (kinds, self.groups.contains_key(id)) else { return false };
        let version = self.tick();
        let group = self.groups.get_mut(id).expect("checked above");
        for (member, kind) in add.iter().zip(kinds) {
            group.removed_members.remove(member);
            group.members.insert(member.clone(), (kind, version));
        }
        for member in remove {
            if let Some((kind, _)) = group.members.remove(member) {
                group.removed_members.insert(member.clone(), (kind, version));
            }
        }
        group.version = version;
        true
    }

    pub fn delete_group(&mut self, id: &str) -> bool {
        if self.groups.remove(id).is_none() {
            return false;
        }
        let version = self.tick();
        self.deleted_groups.insert(id.to_owned(), version);
        self.drop_member(id, version);
        true
    }

    /// Every delta token handed out so far answers 410 from now on.
    pub fn expire_tokens(&mut self) {
        self.tokens_valid_from = self.tick();
    }

    fn drop_member(&mut self, id: &str, version: Version) {
        for group in self.groups.values_mut() {
            if let Some((kind, _)) = group.members.remove(id) {
                group.removed_members.insert(id.to_owned(), (kind, version));
                group.version = version;
            }
        }
    }

    fn kind_of(&self, id: &str) -> Option<MemberKind> {
        if self.users.contains_key(id) {
            Some(MemberKind::User)
        } else if self.groups.contains_key(id) {
            Some(MemberKind::Group)
        } else {
            None
        }
    }
}

/// A generated tenant for benchmarks and manual runs: `users` users (`user{n}@contoso.example`, every
/// tenth one managed by user 0), `groups` groups, the first with `big_group_members` members and the
/// others with 50 each.
pub fn generate(users: usize, groups: usize, big_group_members: usize) -> Directory {
    let mut directory = Directory::default();
    let mut ids = Vec::with_capacity(users);
    for n in 0..users {
        let mut user = json!({
            "userPrincipalName": format!("user{n:06}@contoso.example"),
            "accountEnabled": true,
            "displayName": format!("User {n:06}"),
            "givenName": "User",
            "surname": format!("{n:06}"),
            "mail": format!("user{n:06}@contoso.example"),
            "jobTitle": "Engineer",
            "department": format!("Department {}", n % 20),
            "employeeId": format!("E{n:06}"),
            "mobilePhone": format!("+1 555 {n:07}"),
            "signInActivity": {"lastSignInDateTime": "2026-11-01T08:00:00Z"},
        });
        if n % 10 == 5 {
            user["manager"] = json!(ids[0]);
        }
        ids.push(directory.create_user(user.as_object().cloned().unwrap_or_default()));
    }
    for g in 0..groups {
        let members: Vec<String> = if g == 0 {
            ids.iter().take(big_group_members).cloned().collect()
        } else {
            (0..50).filter_map(|j| ids.get((g * 50 + j) % users.max(1)).cloned()).collect()
        };
        let properties = json!({"displayName": format!("Group {g:04}"), "description": "generated"});
        directory.create_group(properties.as_object().cloned().unwrap_or_default(), &members);
    }
    directory
}
