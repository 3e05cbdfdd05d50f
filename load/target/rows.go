package target

import "context"

// The rows every target is sent: the latest committed marts of one tenant, one full set each time, identified by
// stable ids so that a repeated sync updates the same objects.

// Person, Subscription and Assignment are the rows a sync sends (selectors persons, subscriptions, assignments).
type Person struct {
	ID          string `json:"id"`
	UPN         string `json:"upn"`
	DisplayName string `json:"displayName"`
	Department  string `json:"department"`
	Enabled     bool   `json:"enabled"`
	// DynamicsUsers are the person's Dynamics 365 accounts (source, environment host and account name).
	DynamicsUsers string `json:"dynamicsUsers"`
}

type Subscription struct {
	SkuID string `json:"skuId"`
	Part  string `json:"part"`
	// ProductName is Microsoft's product name of the SKU (license_position.product_display_name), the name people
	// recognise; Product is the rules' product it belongs to.
	ProductName  string  `json:"productName"`
	Product      string  `json:"product"`
	Purchased    int64   `json:"purchased"`
	Assigned     int64   `json:"assigned"`
	Active       int64   `json:"active"`
	Available    int64   `json:"available"`
	MonthlyPrice float64 `json:"monthlyPrice"`
}

type Assignment struct {
	UserID       string `json:"userId"`
	SkuID        string `json:"skuId"`
	ProductName  string `json:"productName"` // Microsoft's product name of the SKU (license_usage.product_display_name)
	Status       string `json:"status"`
	LastActivity string `json:"lastActivity"`
	Evidence     string `json:"evidence"`
	// DaysInactive is nil when nothing bounds the inactivity (no activity and no other evidence): unknown, never 0.
	DaysInactive     *int64  `json:"daysInactive"`
	Reason           string  `json:"reason"`
	MonthlyCost      float64 `json:"monthlyCost"`
	ReclaimCandidate bool    `json:"reclaimCandidate"`
	// UnderLicensed: the user's F&O roles require RequiredLicense, a higher tier than the F&O license held; the
	// Action (assign <tier>) puts it right for TrueUpMonthlyCost more a month (0 when not under-licensed).
	UnderLicensed     bool    `json:"underLicensed"`
	RequiredLicense   string  `json:"requiredLicense"`
	TrueUpMonthlyCost float64 `json:"trueUpMonthlyCost"`
	// Action is license_usage.action: remove license, remove from group …, assign <tier> or downgrade to …; "" when
	// there is nothing to do (sent as "none", so a value an earlier sync put there is replaced).
	Action string `json:"action"`
}

// Data is one full send.
type Data struct {
	TenantID      string // whose rows these are: ServiceNow rows carry it, and a SKU's key is per tenant there
	Persons       []Person
	Subscriptions []Subscription
	Assignments   []Assignment
}

// ObjectType names one object type and the selector its rows go under (Result.Sent, the syncs' sent_json).
type ObjectType struct{ Selector, Name string }

// Types are the object types, in the order targets send them (referenced types first).
func Types() []ObjectType {
	return []ObjectType{{"persons", "Person"}, {"subscriptions", "Subscription"}, {"assignments", "License Assignment"}}
}

// Sizes are the rows per selector.
func (d Data) Sizes() map[string]int {
	return map[string]int{"persons": len(d.Persons), "subscriptions": len(d.Subscriptions), "assignments": len(d.Assignments)}
}

// Rows is one full send as a stream: how many rows each selector has, and each selector's rows in a stable order,
// read one at a time as they are sent, so that a sync holds a request's rows rather than the tenant's. Each Each…
// call reads its selector again from the start (a sender may read a selector twice: to check every row before it
// sends any); an error from f stops the read and is returned, as is an error reading the rows. Data is Rows too.
type Rows interface {
	// Tenant is whose rows these are: ServiceNow rows carry it, and a SKU's key is per tenant there.
	Tenant() string
	Sizes() map[string]int
	EachPerson(ctx context.Context, f func(Person) error) error
	EachSubscription(ctx context.Context, f func(Subscription) error) error
	EachAssignment(ctx context.Context, f func(Assignment) error) error
}

// Tenant is d.TenantID.
func (d Data) Tenant() string { return d.TenantID }

// EachPerson hands f every person of d, in order.
func (d Data) EachPerson(ctx context.Context, f func(Person) error) error {
	return each(ctx, d.Persons, f)
}

// EachSubscription hands f every subscription of d, in order.
func (d Data) EachSubscription(ctx context.Context, f func(Subscription) error) error {
	return each(ctx, d.Subscriptions, f)
}

// EachAssignment hands f every assignment of d, in order.
func (d Data) EachAssignment(ctx context.Context, f func(Assignment) error) error {
	return each(ctx, d.Assignments, f)
}

func each[T any](ctx context.Context, rows []T, f func(T) error) error {
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}
