//! Seed 001's public console data (Veloce's `/api/public/*`): the site settings a console reads
//! before anyone signs in and the public model catalogue. (Its public announcements are in
//! `routes::announcement`.)

pub mod models;
pub mod settings;
