//! Who may do what, to whom: the roles of the operations guideline (第2) and the one table that
//! says, for every administrative operation, which role may perform it and how far its scope
//! reaches (a department, a purpose of use). The services ask [`allowed`] before doing anything;
//! nothing else in the server decides permissions.

use serde::{Deserialize, Serialize};

/// A role of the operations guideline (第2). A person may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// システム総括責任者: sets users' rights per purpose (第4.1), restricts or erases users (第4.4),
    /// designates registration officers.
    GeneralManager,
    /// システム管理者: registers users when hired (第4.2), erases them when they leave (第4.3),
    /// receives incident and failure reports (第11.1(4), 第12).
    SystemAdministrator,
    /// 業務主管課長: owner of one purpose of use; asks the general manager for users' rights to it.
    BusinessOwner,
    /// 運用管理者: manages one department's users and directs its registration officers.
    OperationsManager,
    /// 生体情報登録担当者: enrolls and re-enrolls the fingers of one department's users (第5.2).
    RegistrationOfficer,
}

/// One role held by a person, with its scope: a department for operations managers and
/// registration officers, a purpose of use (its number in the API) for business owners.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role: Role,
    /// The department, for [`Role::OperationsManager`] and [`Role::RegistrationOfficer`].
    pub department: String,
    /// The purpose of use, for [`Role::BusinessOwner`]; 0 otherwise.
    pub purpose: u8,
}

impl RoleGrant {
    /// A role without scope (general manager, system administrator).
    pub fn unscoped(role: Role) -> Self {
        Self {
            role,
            department: String::new(),
            purpose: 0,
        }
    }

    /// A role over one department.
    pub fn of_department(role: Role, department: &str) -> Self {
        Self {
            role,
            department: department.to_owned(),
            purpose: 0,
        }
    }

    /// A business owner of one purpose.
    pub fn owner_of(purpose: u8) -> Self {
        Self {
            role: Role::BusinessOwner,
            department: String::new(),
            purpose,
        }
    }

    /// Whether the grant carries the scope its role needs, and no other.
    pub fn is_well_formed(&self) -> bool {
        match self.role {
            Role::GeneralManager | Role::SystemAdministrator => self.department.is_empty() && self.purpose == 0,
            Role::BusinessOwner => self.department.is_empty() && self.purpose != 0,
            Role::OperationsManager | Role::RegistrationOfficer => !self.department.is_empty() && self.purpose == 0,
        }
    }
}

/// Every operation that needs a signed-in person, with what it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// Register a new user into a department (第4.2).
    RegisterUser { department: &'a str },
    /// Enroll or re-enroll the fingers of a user of a department (第5.2).
    Enroll { department: &'a str },
    /// See a user's enrolled fingers.
    ListFingers { department: &'a str },
    /// See a user's details, or list a department's users; `own` when it is the caller's record.
    SeeUser { department: &'a str, own: bool },
    /// List the users of every department.
    SeeAllUsers,
    /// Erase a user (第4.3, 第4.4).
    EraseUser,
    /// Restrict a user or lift a restriction (第4.4).
    Restrict,
    /// Grant or revoke a right to a purpose, refuse a request for one (第4.1).
    DecideRight,
    /// Ask the general manager for a user's right to a purpose (第6.3, 第7.1, 第10.3).
    RequestRight { purpose: u8 },
    /// List requests for rights to a purpose.
    SeeRightRequests { purpose: u8 },
    /// Give or take a role (the general manager designates officers, 第2).
    AssignRole,
    /// Lift a disabled biometric login of a user of a department.
    LiftLockout { department: &'a str },
    /// List the users of a department who need re-registration (第5.2(2)).
    SeeReregistration { department: &'a str },
    /// List, acknowledge and close incidents (第11.1(4), 第12).
    HandleIncidents,
    /// Read the audit log of one department, or of everything (`None`).
    ReadAudit { department: Option<&'a str> },
}

fn holds(roles: &[RoleGrant], role: Role) -> bool {
    roles.iter().any(|g| g.role == role)
}

fn holds_for_department(roles: &[RoleGrant], role: Role, department: &str) -> bool {
    roles.iter().any(|g| g.role == role && g.department == department)
}

/// Whether a person holding `roles` may perform `operation`: the guideline's table, in one place.
pub fn allowed(roles: &[RoleGrant], operation: Operation) -> bool {
    use Role::*;
    let any = |role| holds(roles, role);
    let of = |role, department| holds_for_department(roles, role, department);
    match operation {
        Operation::RegisterUser { .. } => any(SystemAdministrator),
        Operation::Enroll { department } => of(RegistrationOfficer, department),
        Operation::ListFingers { department } => {
            any(SystemAdministrator) || of(RegistrationOfficer, department) || of(OperationsManager, department)
        }
        Operation::SeeUser { department, own } => {
            own || any(GeneralManager)
                || any(SystemAdministrator)
                || of(RegistrationOfficer, department)
                || of(OperationsManager, department)
        }
        Operation::SeeAllUsers => any(GeneralManager) || any(SystemAdministrator),
        Operation::EraseUser => any(SystemAdministrator) || any(GeneralManager),
        Operation::Restrict | Operation::DecideRight | Operation::AssignRole => any(GeneralManager),
        Operation::RequestRight { purpose } => roles.iter().any(|g| g.role == BusinessOwner && g.purpose == purpose),
        Operation::SeeRightRequests { purpose } => {
            any(GeneralManager) || roles.iter().any(|g| g.role == BusinessOwner && g.purpose == purpose)
        }
        Operation::LiftLockout { department } => of(RegistrationOfficer, department),
        Operation::SeeReregistration { department } => {
            of(RegistrationOfficer, department) || of(OperationsManager, department)
        }
        Operation::HandleIncidents => any(SystemAdministrator),
        Operation::ReadAudit { department: None } => any(GeneralManager) || any(SystemAdministrator),
        Operation::ReadAudit {
            department: Some(department),
        } => any(GeneralManager) || any(SystemAdministrator) || of(OperationsManager, department),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_officer_enrolls_only_in_their_own_department() {
        let officer = [RoleGrant::of_department(Role::RegistrationOfficer, "accounts")];
        assert!(allowed(&officer, Operation::Enroll { department: "accounts" }));
        assert!(!allowed(&officer, Operation::Enroll { department: "police" }));
        assert!(!allowed(&officer, Operation::RegisterUser { department: "accounts" }));
    }

    #[test]
    fn a_business_owner_requests_rights_only_to_their_purpose() {
        let owner = [RoleGrant::owner_of(2)];
        assert!(allowed(&owner, Operation::RequestRight { purpose: 2 }));
        assert!(!allowed(&owner, Operation::RequestRight { purpose: 3 }));
        assert!(!allowed(&owner, Operation::DecideRight));
    }

    #[test]
    fn nobody_without_a_role_may_do_anything_but_see_themself() {
        assert!(!allowed(&[], Operation::SeeAllUsers));
        assert!(!allowed(
            &[],
            Operation::SeeUser {
                department: "a",
                own: false
            }
        ));
        assert!(allowed(
            &[],
            Operation::SeeUser {
                department: "a",
                own: true
            }
        ));
    }

    #[test]
    fn grants_carry_exactly_the_scope_their_role_needs() {
        assert!(RoleGrant::unscoped(Role::GeneralManager).is_well_formed());
        assert!(!RoleGrant::unscoped(Role::RegistrationOfficer).is_well_formed());
        assert!(!RoleGrant::of_department(Role::GeneralManager, "x").is_well_formed());
        assert!(RoleGrant::owner_of(1).is_well_formed());
        assert!(!RoleGrant::owner_of(0).is_well_formed());
    }
}
