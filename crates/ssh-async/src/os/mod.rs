//! The operating system: users, PTYs, processes, signals, terminals.
