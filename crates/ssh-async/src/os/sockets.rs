//! Sockets made on a user's behalf: directly when the server runs as
//! that user, through a helper process running as the user otherwise.
