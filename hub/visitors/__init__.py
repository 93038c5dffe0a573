"""The gatekeeper's book (门卫登记簿): visitors in and out, invitations, and pupils leaving during school hours."""
